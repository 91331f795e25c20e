"""Insight for the region's management: what the platform did (activation statistics), where
it can reach (the coverage grid) and what a policy would do (the simulator), with server-drawn
charts.

Read-only over incidents, alerts and the registries (except the coverage grid, which it owns);
the console's pages (amk.console.insight_views, amk.console.simulation) show it.
"""
