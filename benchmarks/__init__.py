"""Benchmarks of funcnn against its peers: ``python -m benchmarks`` (see ``run.py``)."""
