"""coursegen quality service."""
