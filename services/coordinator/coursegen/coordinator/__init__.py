"""coursegen coordinator service."""
