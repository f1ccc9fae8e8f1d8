"""coursegen tracker service."""
