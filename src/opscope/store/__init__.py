"""Durable storage: narrow ports (``ports.py``) and adapters (``duckdb/`` is the default)."""
