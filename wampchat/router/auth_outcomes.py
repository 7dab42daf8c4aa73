"""
What an authentication step comes to: an :class:`Identity` (the session may join as it), a
:class:`Challenge` (send it, then check the answer), or a :class:`Refusal` (ABORT with its reason).
Kept apart from the Authenticator so the session's opening and the login limits can name them
without importing the way logins are checked.
"""


class Identity:
    """The outcome of a successful authentication."""

    __slots__ = ("authid", "authrole", "authmethod", "authprovider", "authextra")

    def __init__(self, authid, authrole, authmethod, authprovider="static", authextra=None):
        self.authid = authid
        self.authrole = authrole
        self.authmethod = authmethod
        self.authprovider = authprovider
        self.authextra = authextra or {}


class Challenge:
    """A pending challenge: what to send, and the state to check the answer."""

    def __init__(self, method, extra, authid, credentials=None, challenge=None):
        self.method = method
        self.extra = extra
        self.authid = authid
        self.credentials = credentials
        self.challenge = challenge


class Refusal(Exception):
    """Authentication failed: ABORT with ``reason`` (a WAMP error URI)."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message
