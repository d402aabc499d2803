"""Benchmarks (`make bench`); each also runs small in `make test` (tests/test_benchmarks.py)."""
