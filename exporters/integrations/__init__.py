"""Framework glue, imported only when used: ASGI, WSGI/Flask, structlog."""
