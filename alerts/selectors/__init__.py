"""alerts' reads, by job: policy (in force), selection (candidates), aeds (the AED on the way),
incident (an incident's alerts for the board and the waves), volunteer (the app's own alerts)."""
