"""Insight for the region: what the platform did and what a policy would do."""
