"""The ``opscope`` command line."""
