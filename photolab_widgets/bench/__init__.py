"""Benchmarks: each prints figures and ratios; run with ``photolab-widgets bench``."""
