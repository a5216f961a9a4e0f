"""Benchmarks: each compares tracklog against its anchors side by side in one run (ratios, not absolute times)."""
