"""
HELLO with the roles its client always sends, read once per distinct set of roles.

Autobahn's ``Hello.parse`` builds a features object per role, checking every
feature flag, which is about two thirds of reading a HELLO; and every client
of one library announces the very same roles. So the roles of a HELLO whose
features are all plain booleans are looked up by their value: the first
HELLO with them is read by Autobahn in full, and later ones are read by
Autobahn with one empty role in their place, then given the roles it built
the first time. Every other field is still checked by Autobahn on every
HELLO, and any other shape of roles goes to Autobahn whole, so what is
accepted, and how a bad HELLO is refused, is unchanged. Roles objects are
shared between sessions: the router only reads them (``registrations.supports``).
"""
from typing import Dict, Optional, Tuple

from autobahn.wamp import message

MAX_KNOWN_ROLES = 256   # distinct role sets remembered (a peer choosing odd flags cannot grow it past this)
_PLACEHOLDER_ROLES: Dict[str, dict] = {"caller": {}}
_known_roles: Dict[tuple, dict] = {}


def roles_key(roles: object) -> Optional[Tuple]:
    """A hashable value of ``{role: {"features": {name: bool}}}`` (order kept), or None for any other shape."""
    if type(roles) is not dict or not roles:
        return None
    parts = []
    for role, spec in roles.items():
        if type(spec) is not dict or len(spec) != 1:
            return None
        features = spec.get("features")
        if type(features) is not dict:
            return None
        for value in features.values():
            if type(value) is not bool:
                return None
        parts.append((role, tuple(features.items())))
    return tuple(parts)


def parse_hello(raw: list) -> Optional[message.Hello]:
    """``[HELLO, realm, details]`` read with known roles reused, or None: Autobahn reads it whole."""
    if len(raw) != 3 or type(raw[2]) is not dict:
        return None
    details = raw[2]
    key = roles_key(details.get("roles"))
    if key is None:
        return None
    roles = _known_roles.get(key)
    if roles is None:
        msg = message.Hello.parse(raw)
        if len(_known_roles) >= MAX_KNOWN_ROLES:
            _known_roles.clear()
        _known_roles[key] = msg.roles
        return msg
    msg = message.Hello.parse([raw[0], raw[1], dict(details, roles=_PLACEHOLDER_ROLES)])
    msg.roles = roles
    return msg
