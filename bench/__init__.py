"""Benchmarks for the SDK and the emulator: ``python -m bench`` (``make bench``). See docs/performance.md."""
