"""
Every setting of ``twistd wampchat``, once: its command-line option, its key in
a ``--config-file`` TOML file, its type, default and help.

The option parser (``wampchat.tap.Options``), ``--help`` and the TOML reader
are all made from :data:`SETTINGS`, so a setting cannot exist on the command
line and be missing from the file (or differ in meaning), and docs/running.md's
settings table is checked against it (``tests/test_tap.py``).

The mapping is deliberately flat and literal: a TOML key is the long option
without its dashes, and its value is what you would type after the option,
typed as TOML: ``listen = ["tcp:8080"]`` for the repeatable ``--listen``,
``max-message-size = 1048576``, ``no-guests = true``. Relative paths mean the
same as on the command line (from the working directory), because endpoint
strings such as ``ssl:8443:privateKey=key.pem`` are resolved by Twisted
against the working directory too, and a file that meant something else
there than on the command line would be a trap.
"""
import difflib
import tomllib
from dataclasses import dataclass
from typing import Any, Callable, Optional

FLAG, TEXT, WHOLE, SECONDS, LIST = "flag", "text", "whole", "seconds", "list"
TOML_TYPES = {FLAG: "true or false", TEXT: "a string", WHOLE: "a whole number", SECONDS: "a number",
              LIST: "an array of strings"}


def whole(minimum=1, unit=""):
    """A coercer for whole numbers >= ``minimum``; takes the command line's text or the file's integer."""
    what = {0: f"0 (no limit) or a positive whole number{unit}", 1: f"a positive whole number{unit}"}.get(
        minimum, f"a whole number{unit} of at least {minimum}")

    def coerce(value):
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be {what}, not {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be {what}, not {value!r}")
        return number

    return coerce


def positive_seconds(value):
    """A coercer for a positive number of seconds (``2``, ``2.5``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a positive number of seconds, not {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise ValueError(f"must be a positive number of seconds, not {value!r}")
    return number


def text(value):
    return value


@dataclass(frozen=True)
class Setting:
    """One setting: ``--name`` on the command line, ``name = ...`` in the config file."""

    name: str
    kind: str
    default: Any
    help: str
    example: str                      # the TOML line a reader can copy, e.g. 'realm = "wampchat"'
    default_text: Optional[str] = None  # how the default reads in --help and the README
    coerce: Callable = text

    @property
    def option(self):
        return f"--{self.name}"

    def shown_default(self):
        if self.default_text is not None:
            return self.default_text
        if self.kind == FLAG:
            return "off"
        return str(self.default)

    def help_line(self):
        """The --help text: what it does, its default and its line in the config file."""
        return f"{self.help} [default: {self.shown_default()}] [file: {self.example}]"

    def from_file(self, value):
        """The value of this setting's key in a config file, checked like the command line checks it."""
        if self.kind == FLAG:
            ok = isinstance(value, bool)
        elif self.kind == TEXT:
            ok = isinstance(value, str)
        elif self.kind == WHOLE:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.kind == SECONDS:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        if not ok:
            raise ValueError(f"must be {TOML_TYPES[self.kind]} (e.g. {self.example}), not {_toml_repr(value)}")
        if self.kind == LIST:
            return list(value)
        return self.coerce(value)


def _toml_repr(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1"
DEFAULT_DB = "./var/wampchat.sqlite"

SETTINGS = [
    Setting("listen", LIST, [DEFAULT_LISTEN],
            "Serve the page, WAMP (/ws), /healthz and /metrics on this Twisted server endpoint, e.g. "
            "tcp:8080:interface=0.0.0.0 or ssl:8443:privateKey=key.pem:certKey=cert.pem. Repeatable; "
            "on the command line it replaces the file's list.",
            'listen = ["tcp:8080:interface=127.0.0.1"]', default_text=DEFAULT_LISTEN),
    Setting("rawsocket", LIST, [],
            "Also serve WAMP over RawSocket on this endpoint (e.g. tcp:8081), for backend services. Repeatable.",
            'rawsocket = ["tcp:8081:interface=127.0.0.1"]', default_text="off"),
    Setting("realm", TEXT, "wampchat", "The WAMP realm clients join.", 'realm = "wampchat"'),
    Setting("config", TEXT, None,
            ("A JSON file with roles/permissions and users "
             "(format: docs/security.md, Authorization and the config file)."),
            'config = "/etc/wampchat/roles.json"', default_text="none"),
    Setting("web", TEXT, None, "Directory of static files served at /.", 'web = "/srv/wampchat/web"',
            default_text="the page in the package, or the checkout's web/"),
    Setting("no-guests", FLAG, False, "Refuse anonymous (guest) logins.", "no-guests = true",
            default_text="guests allowed"),
    Setting("guest-rate", WHOLE, 20,
            "New guest (anonymous) sessions one source address may open per 10 minutes; 0 = no limit.",
            "guest-rate = 20", coerce=whole(minimum=0)),
    Setting("login-address-burst", WHOLE, 10,
            "Password logins (ticket, WAMP-CRA) one source address may have failed or unanswered before its "
            "logins are refused at once; a success gives back only its own.",
            "login-address-burst = 10", coerce=whole()),
    Setting("login-address-refill", SECONDS, 10.0,
            "Seconds after which an address may try one more password login once over login-address-burst.",
            "login-address-refill = 10.0", coerce=positive_seconds),
    Setting("login-account-burst", WHOLE, 5,
            "Password logins one account may have failed or unanswered (from any address) before its logins are "
            "refused at once, right password or not; its success clears them.",
            "login-account-burst = 5", coerce=whole()),
    Setting("login-account-refill", SECONDS, 30.0,
            "Seconds after which an account may try one more password login once over login-account-burst.",
            "login-account-refill = 30.0", coerce=positive_seconds),
    Setting("max-message-size", WHOLE, 1024 * 1024,
            "Largest WAMP message accepted, in bytes; larger ones close the connection (WebSocket 1009).",
            "max-message-size = 1048576", coerce=whole(unit=" of bytes")),
    Setting("outbound-buffer", WHOLE, 4 * 1024 * 1024,
            "Bytes a peer may fall behind before it is disconnected as a slow consumer.",
            "outbound-buffer = 4194304", coerce=whole(unit=" of bytes")),
    Setting("max-subscriptions", WHOLE, 1000, "Subscriptions one session may hold at once.",
            "max-subscriptions = 1000", coerce=whole()),
    Setting("max-registrations", WHOLE, 100, "Registrations one session may hold at once.",
            "max-registrations = 100", coerce=whole()),
    Setting("max-calls-in-flight", WHOLE, 1000, "Calls one session may have waiting for an answer at once.",
            "max-calls-in-flight = 1000", coerce=whole()),
    Setting("max-connections-per-address", WHOLE, 100,
            "Open connections (web and RawSocket together) one source address may hold; 0 = no limit.",
            "max-connections-per-address = 100", coerce=whole(minimum=0)),
    Setting("handshake-timeout", SECONDS, 10.0,
            "Seconds a new connection has to send its HTTP request, or to upgrade to WebSocket (or finish the "
            "RawSocket handshake) and send WAMP HELLO.", "handshake-timeout = 10.0", coerce=positive_seconds),
    Setting("trusted-proxy", LIST, [],
            "A reverse proxy's network (CIDR, e.g. 10.0.0.0/8 or 127.0.0.1/32): a WebSocket from it takes its client "
            "address from X-Forwarded-For (the rightmost entry that is not a trusted proxy), and with "
            "--proxy-protocol only connections from these networks are accepted. Repeatable.",
            'trusted-proxy = ["127.0.0.1/32"]', default_text="none"),
    Setting("event-history", LIST, [],
            "URI:N: keep the last N events of the topic URI (a URI ending with '.' is a prefix) for "
            "wamp.subscription.get_events, in the database (every node's). Repeatable.",
            'event-history = ["app.news:100", "app.feed.:50"]', default_text="none"),
    Setting("proxy-protocol", FLAG, False,
            "Every connection to the web and RawSocket listeners must start with a PROXY protocol header "
            "(v1 or v2, as HAProxy's send-proxy / send-proxy-v2 write); its source is the client address.",
            "proxy-protocol = true"),
    Setting("db", TEXT, DEFAULT_DB,
            "The chat database: a SQLite file (created if missing) or postgresql://user:pass@host:5432/dbname "
            "(shared by every node of a cluster). Pending schema migrations run at start.",
            'db = "/var/lib/wampchat/wampchat.sqlite"'),
    Setting("no-open-registration", FLAG, False,
            "Refuse chat.user.register (add users with wampchat-admin).", "no-open-registration = true",
            default_text="open"),
    Setting("send-rate", WHOLE, 20, "Chat messages one user may send per 10 seconds (counted on every node).",
            "send-rate = 20", coerce=whole()),
    Setting("guest-send-rate", WHOLE, 40,
            "Chat messages all guests at one client address may send together per 10 seconds (each guest is a new "
            "user, so this is what holds for one client making fresh guest sessions).",
            "guest-send-rate = 40", coerce=whole()),
    Setting("dm-rate", WHOLE, 20, "New direct-message rooms one user may open per hour (on all nodes).",
            "dm-rate = 20", coerce=whole()),
    Setting("dm-address-rate", WHOLE, 60,
            "New direct-message rooms everyone at one client address may open per hour (on all nodes).",
            "dm-address-rate = 60", coerce=whole()),
    Setting("retention-days", WHOLE, 0,
            "Days a chat message is kept; older ones are deleted (hourly, by one node of the cluster). A room's "
            "retention_days overrides it; 0 = keep forever.", "retention-days = 0", default_text="0 (keep forever)",
            coerce=whole(minimum=0)),
    Setting("max-upload", WHOLE, 10 * 1024 * 1024,
            "Bytes one uploaded file may have (chat.file.upload; a bigger HTTP upload is refused before its body "
            "is read).", "max-upload = 10485760", default_text="10485760 (10 MiB)", coerce=whole()),
    Setting("upload-quota", WHOLE, 200 * 1024 * 1024,
            "Bytes of files one user may upload per 24 hours (on all nodes).", "upload-quota = 209715200",
            default_text="209715200 (200 MiB)", coerce=whole()),
    Setting("link-previews", FLAG, False,
            "Preview the first http(s) link of each new message: fetch it (HTML only, at most 1 MiB and 5 s; never "
            "a loopback, private or link-local address) and add its title and description to the message.",
            "link-previews = true"),
    Setting("register-rate", WHOLE, 20, "Accounts one network address may register per hour (chat.user.register; on all nodes).",
            "register-rate = 20", coerce=whole()),
    Setting("create-rate", WHOLE, 20, "Rooms one user may create per hour (chat.room.create; on all nodes).",
            "create-rate = 20", coerce=whole()),
    Setting("node-id", TEXT, None,
            "This node's id in message ids, the cluster, AMQP headers and queues (1..16 of a-z0-9); give each "
            "node of a cluster a fixed one, so a restart takes over its old presence at once.",
            'node-id = "node1"', default_text="random 8 hex"),
    Setting("node-heartbeat", SECONDS, 5.0, "Seconds between this node's presence heartbeats.",
            "node-heartbeat = 5.0", coerce=positive_seconds),
    Setting("node-timeout", SECONDS, 15.0,
            "Seconds without a heartbeat after which a node counts as dead and its users go offline "
            "(longer than node-heartbeat).", "node-timeout = 15.0", coerce=positive_seconds),
    Setting("amqp", TEXT, None,
            "Bridge to RabbitMQ: amqp://user:pass@host:5672/vhost, or amqps://... (certificate checked for the "
            "host name; ?cafile=ca.pem to trust a private CA).",
            'amqp = "amqps://node1:secret@mq.internal/%2f"', default_text="off"),
    Setting("amqp-exchange", TEXT, "wampchat", "The AMQP topic exchange publications are mirrored to.",
            'amqp-exchange = "wampchat"'),
    Setting("amqp-node-users", TEXT, None,
            "Comma-separated broker users of wampchat nodes, the only ones whose chat.* messages are accepted.",
            'amqp-node-users = "node1,node2"', default_text="the --amqp user"),
    Setting("amqp-outbox", WHOLE, 10000, "Publications kept while the broker is away; past it the oldest are dropped.",
            "amqp-outbox = 10000", coerce=whole()),
    Setting("amqp-retry-max", SECONDS, 10.0, "Longest wait between AMQP reconnection attempts, in seconds.",
            "amqp-retry-max = 10.0", coerce=positive_seconds),
]

BY_NAME = {setting.name: setting for setting in SETTINGS}


class ConfigFileError(Exception):
    """A config file that cannot be used; the message is one line that names the file and the key."""


def read_config_file(path):
    """The settings in the TOML file at ``path``, as ``{name: checked value}``.

    Raises ConfigFileError for an unreadable file, invalid TOML, an unknown
    key (with the closest real key, if any) or a value of the wrong type or
    range; cross-setting checks (node-timeout > node-heartbeat, endpoints,
    URLs) are the option parser's, which names the key the same way.
    """
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigFileError(f"--config-file {path}: cannot read it: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigFileError(f"{path}: not valid TOML: {e}") from None
    values = {}
    for key, value in data.items():
        setting = BY_NAME.get(key)
        if setting is None:
            raise ConfigFileError(f"{path}: unknown key {key!r}{_suggestion(key)}")
        try:
            values[key] = setting.from_file(value)
        except ValueError as e:
            raise ConfigFileError(f"{path}: {key} {e}") from None
    return values


def _suggestion(key):
    if key == "config-file":
        return " (a config file cannot name another one; use --config-file on the command line)"
    close = difflib.get_close_matches(key.replace("_", "-"), list(BY_NAME), n=1)
    if close:
        return f" (did you mean {close[0]}?)"
    return " (the keys are the long options of `twistd wampchat --help`, without the dashes)"
