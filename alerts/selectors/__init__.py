"""alerts' reads, by job: policy (in force, and each incident's copy), selection (candidates),
aeds (the AED on the way), incident (an incident's alerts for the board and the waves),
lifecycle (what has run out: expired alerts, incidents to close), volunteer (the app's own
alerts)."""
