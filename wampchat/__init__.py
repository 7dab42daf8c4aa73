"""wampchat: a real-time chat server that is also a small, fast, embeddable WAMP router."""

__version__ = "0.1.0"
