"""coursegen multimedia service."""
