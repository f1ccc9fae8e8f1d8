"""coursegen planner service."""
