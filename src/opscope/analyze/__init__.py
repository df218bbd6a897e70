"""Analysis: log templates, anomaly detection, correlation, root cause, patterns, NLP."""
