"""The REST API (FastAPI): ingestion, reads, tokens and self-monitoring."""
