"""coursegen gateway: the web app and the HTTP API."""
