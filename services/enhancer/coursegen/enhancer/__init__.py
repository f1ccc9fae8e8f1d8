"""coursegen enhancer service."""
