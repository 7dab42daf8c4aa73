"""Benchmarks: the same WAMP load against wampchat and Crossbar.io (``python -m benchmarks.run``)."""
