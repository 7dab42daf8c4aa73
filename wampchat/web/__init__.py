"""
The HTTP side of a node: the page in web/ at /, WAMP-over-WebSocket at /ws, /healthz and /metrics.

One module per job, imported by their own names (this package hands none on):
``site`` assembles the one Site; ``connections`` admits each connection
through the ConnectionGuard; ``requests`` puts the security headers on every
response and refuses malformed requests before any resource sees them;
``page_files`` decides which files of the web directory are the page (only
they are served); ``websocket`` is the /ws endpoint; ``monitoring`` is
/healthz and /metrics.
"""
