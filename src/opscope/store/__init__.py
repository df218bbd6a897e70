"""Durable storage: narrow ports (``ports.py``) and adapters (``duckdb/`` is the default,
``postgres/`` for shared deployments). Both adapters are the one facade (``facade.py``)
over the modules a backend supplies (``backend.py``), with the logic around their SQL
written once in ``sql/``."""
