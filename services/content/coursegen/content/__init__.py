"""coursegen content service."""
