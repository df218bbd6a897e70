"""Evaluation harnesses on labelled data, exposed as ``opscope eval ...``."""
