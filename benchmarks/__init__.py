"""Benchmarks of amas_telemetry: overhead, cost of derivation, exactness, scale, Collector.

Each module runs with ``python -m benchmarks.<name> [--quick]`` from the repository root and
prints ratios measured in the same run (variants interleaved round by round, medians).
They are not part of the test command; ``benchmarks/run_all.sh`` runs them all.
"""
