"""Benchmarks: they print ratios against a hand-written baseline; they are not timed tests."""
