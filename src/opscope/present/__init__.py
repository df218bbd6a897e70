"""Visualisation and access: the REST API, the web dashboard, reports and the CLI."""
