"""Benchmarks run by `aurigraph bench …`. Each reports its figures next to a baseline measured in
the same run, and writes a JSON result under `benchmarks/results/`."""
