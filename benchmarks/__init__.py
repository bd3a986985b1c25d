"""Benchmark harness for finops-sdk: ``python -m benchmarks`` (``make bench``) or ``--smoke``.

Every figure is a ratio against peers measured in the same run against a local nginx,
variants interleaved within each round, medians of several rounds. See ``RESULTS.md``.
"""
