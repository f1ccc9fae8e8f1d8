"""The coursegen command."""
