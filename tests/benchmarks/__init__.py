"""Benchmarks of fastwait's poller against what users write by hand, on the fake provider.

Run with ``python -m tests.benchmarks [polling|scale|all]``. They are not pytest tests (the
modules are named ``bench_*``): a shared two-core machine is too noisy for absolute numbers,
so every target is a ratio between strategies measured in the same run, and the process exits
non-zero when one is missed so that a check can call it.
"""
