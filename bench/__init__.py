"""Benchmarks: each module measures one capability against a baseline in the same run."""
