"""The CAD integration: the dispatch centre's CAD system creates and ends incidents machine to
machine, reads their state, and is told of changes by signed callbacks (README, "CAD API")."""
