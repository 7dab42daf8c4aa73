"""Who a session is: the identity the router, its services and the session meta API see."""


class SessionInfo:
    """Who a session is, as other parts of the router and services see it."""

    __slots__ = ("id", "realm", "authid", "authrole", "authmethod", "authprovider", "authextra", "transport")

    def __init__(self, id, realm, authid, authrole, authmethod, authprovider="static",
                 authextra=None, transport=None):
        self.id = id
        self.realm = realm
        self.authid = authid
        self.authrole = authrole
        self.authmethod = authmethod
        self.authprovider = authprovider
        self.authextra = authextra or {}
        self.transport = transport or {}

    def as_dict(self, with_transport=False):
        """The shape of ``wamp.session.get`` and ``wamp.session.on_join``.

        ``transport`` (the peer's address) is left out unless asked for: only
        some roles may see it (see :mod:`wampchat.router.meta`).
        """
        details = {
            "session": self.id,
            "authid": self.authid,
            "authrole": self.authrole,
            "authmethod": self.authmethod,
            "authprovider": self.authprovider,
            "authextra": self.authextra,
        }
        if with_transport:
            details["transport"] = self.transport
        return details

    def __repr__(self):
        return f"<SessionInfo {self.id} {self.authid}/{self.authrole}>"
