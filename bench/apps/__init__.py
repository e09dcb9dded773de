"""One module per framework, each exposing ``app`` (ASGI, or WSGI for Flask)."""
