"""
Router configuration: roles with URI permissions, users, and limits
(message size, outbound buffer, and what one session may hold at once).

The config file is JSON (documented in the README)::

    {
      "allow_guests": true,
      "roles": {
        "user": {"permissions": [{"uri": "app.", "match": "prefix",
                                   "allow": ["call", "register", "publish", "subscribe"]}],
                 "disclose": true}
      },
      "users": [ <entries printed by python -m wampchat.router.credentials> ],
      "keys": [{"authid": "bot", "role": "service", "pubkey": "<64 hex digits>"}]
    }

A role named in the file replaces that role's defaults; roles not named keep
theirs.
"""
import json
from dataclasses import dataclass, field

from wampchat.router.credentials import credentials_from_dict
from wampchat.router.cryptosign import KeyOwner, normalize_pubkey
from wampchat.router.matching import MATCH_POLICIES
from wampchat.router.session_limits import SessionLimits

ACTIONS = ("call", "register", "publish", "subscribe")
ALL = list(ACTIONS)

SESSION_META_PROCEDURES = ("wamp.session.count", "wamp.session.list", "wamp.session.get")
REGISTRATION_META_PROCEDURES = tuple(f"wamp.registration.{name}" for name in (
    "list", "lookup", "match", "get", "list_callees", "count_callees"))
SUBSCRIPTION_META_PROCEDURES = tuple(f"wamp.subscription.{name}" for name in (
    "list", "lookup", "match", "get", "list_subscribers", "count_subscribers"))
META_PROCEDURES = SESSION_META_PROCEDURES + REGISTRATION_META_PROCEDURES + SUBSCRIPTION_META_PROCEDURES
META_TOPICS = ("wamp.session.on_join", "wamp.session.on_leave") + tuple(
    f"wamp.registration.{event}" for event in ("on_create", "on_register", "on_unregister", "on_delete")) + tuple(
    f"wamp.subscription.{event}" for event in ("on_create", "on_subscribe", "on_unsubscribe", "on_delete"))
TESTAMENT_PROCEDURES = ("wamp.session.add_testament", "wamp.session.flush_testaments")
KILL_PROCEDURES = ("wamp.session.kill", "wamp.session.kill_by_authid", "wamp.session.kill_by_authrole")


def _rule(uri, match, allow):
    return {"uri": uri, "match": match, "allow": list(allow)}


# The meta APIs list every online user with their role and login method, and who holds which procedure
# and topic, so by default only these roles may use them (a config file may grant them to others);
# in-process services (trusted) always may.
META_API_ROLES = ("admin", "service")


def _common_rules():
    rules = [_rule("app.", "prefix", ALL), _rule("svc.", "prefix", ["call"])]
    rules += [_rule(p, "exact", ["call"]) for p in TESTAMENT_PROCEDURES]   # a session's own testaments
    rules.append(_rule("wamp.subscription.get_events", "exact", ["call"]))  # its own subscriptions' history
    # chat.*: the chat service's dynamic rule narrows these per room and user.
    rules.append(_rule("chat.", "prefix", ["call", "subscribe"]))
    return rules


def _meta_rules():
    """Calling the session, registration and subscription meta procedures and subscribing to their events."""
    rules = [_rule(p, "exact", ["call"]) for p in META_PROCEDURES]
    rules += [_rule(t, "exact", ["subscribe"]) for t in META_TOPICS]
    return rules


def default_roles() -> dict:
    """The permissions used when no config file names a role (README, *Authorization and the config file*)."""
    roles = {name: {"permissions": _common_rules(), "disclose": True} for name in ("guest", "user", "admin")}
    roles["service"] = {
        "permissions": _common_rules() + [_rule("svc.", "prefix", ["register", "call"])],
        "disclose": True,
    }
    for name in META_API_ROLES:
        roles[name]["permissions"] += _meta_rules()
    roles["admin"]["permissions"] += [_rule(p, "exact", ["call"]) for p in KILL_PROCEDURES]   # admins only
    return roles


class ConfigError(ValueError):
    """The config file is unreadable or malformed; the message says where."""


@dataclass
class RouterConfig:
    """Everything the router needs to know that is not code."""

    realm: str = "wampchat"
    allow_guests: bool = True
    roles: dict = field(default_factory=default_roles)
    users: list = field(default_factory=list)
    keys: list = field(default_factory=list)   # Cryptosign keys (KeyOwner) from the file's "keys"
    max_message_size: int = 1024 * 1024
    outbound_buffer: int = 4 * 1024 * 1024
    max_subscriptions: int = 1000
    max_registrations: int = 100
    max_calls_in_flight: int = 1000
    event_history: list = field(default_factory=list)   # (uri, n): topics whose last n events are kept

    def session_limits(self):
        """The per-session limits (``--max-subscriptions`` etc.), one object shared by all sessions."""
        return SessionLimits(self.max_subscriptions, self.max_registrations, self.max_calls_in_flight)


def _check_permissions(role, perms):
    if not isinstance(perms, list):
        raise ConfigError(f"roles.{role}.permissions must be a list")
    for i, rule in enumerate(perms):
        where = f"roles.{role}.permissions[{i}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("uri"), str):
            raise ConfigError(f"{where} needs a string 'uri'")
        if rule.get("match", "exact") not in MATCH_POLICIES:
            raise ConfigError(f"{where}.match must be one of {', '.join(MATCH_POLICIES)}")
        allow = rule.get("allow", [])
        if not isinstance(allow, list) or not set(allow) <= set(ACTIONS):
            raise ConfigError(f"{where}.allow must be a list drawn from {', '.join(ACTIONS)}")


def load_config(path, base=None):
    """Read a JSON config file onto ``base`` (defaults), raising ConfigError on any problem."""
    config = base or RouterConfig()
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {path} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    if "allow_guests" in data:
        config.allow_guests = bool(data["allow_guests"])
    roles = data.get("roles", {})
    if not isinstance(roles, dict):
        raise ConfigError("roles must be an object of role name -> settings")
    for name, settings in roles.items():
        if not isinstance(settings, dict):
            raise ConfigError(f"roles.{name} must be an object")
        _check_permissions(name, settings.get("permissions", []))
        config.roles[name] = {
            "permissions": settings.get("permissions", []),
            "disclose": bool(settings.get("disclose", True)),
        }
    users = data.get("users", [])
    if not isinstance(users, list):
        raise ConfigError("users must be a list")
    for i, entry in enumerate(users):
        try:
            config.users.append(credentials_from_dict(entry))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"users[{i}] is missing or has a bad field: {e}") from e
    config.keys.extend(_keys(data.get("keys", [])))
    return config


def _keys(entries) -> list:
    """The file's Cryptosign keys: ``[{"authid", "role", "pubkey"}]``."""
    if not isinstance(entries, list):
        raise ConfigError("keys must be a list")
    keys = []
    for i, entry in enumerate(entries):
        try:
            authid, role = entry["authid"], entry.get("role", "service")
            if not isinstance(authid, str) or not isinstance(role, str):
                raise ValueError("authid and role must be strings")
            keys.append(KeyOwner(authid, role, normalize_pubkey(entry["pubkey"])))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"keys[{i}] is missing or has a bad field: {e}") from e
    return keys
