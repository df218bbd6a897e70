"""The web dashboard: server-rendered pages that read the same REST API as everyone."""
