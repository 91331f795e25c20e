"""Insight for the region's management: activation statistics, the coverage grid and charts.

Read-only over incidents, alerts and the registries (except the coverage grid, which it owns);
the console's pages (amk.console.insight_views) show it.
"""
