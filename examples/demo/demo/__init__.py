"""The carboy demo project: pages, a JSON API, a WebSocket chat and htmx partials."""
