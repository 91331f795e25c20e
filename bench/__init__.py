"""Benchmarks at national scale (issue #5). Run everything with ``./scripts/bench.sh``."""
