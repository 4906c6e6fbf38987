"""Benchmarks (run by `make bench`, not by `make test`): they print figures, they do not assert."""
