"""coursegen researcher service."""
