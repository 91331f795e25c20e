"""Writes for volunteers, by job: ``areas`` (the corps' local areas), ``synthetic`` (the demo
population), ``accounts`` (codes, sign-up, login, tokens, profile, erasure), ``location`` (the
current position and its retention) and ``devices`` (push tokens). Import from those modules."""
