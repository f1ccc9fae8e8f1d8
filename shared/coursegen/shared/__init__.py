"""coursegen shared library."""
