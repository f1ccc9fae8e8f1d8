"""coursegen finalizer service."""
