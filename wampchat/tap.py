"""
``twistd wampchat``: the command-line options (with ``--config-file``), checked into one line per mistake,
and ``makeService``, which has :mod:`wampchat.node` build the service tree and makes a start that cannot
succeed (a database or port that cannot be used) exit with one line.
"""
import os
import re

from twisted.python import usage

from wampchat.node import build_service
from wampchat.router.event_history import parse_rule
from wampchat.router.config import ConfigError, RouterConfig, load_config
from wampchat.router.transports.client_address import parse_networks
from wampchat.settings import (BY_NAME, DEFAULT_LISTEN, FLAG, LIST, SETTINGS, ConfigFileError,  # noqa: F401
                               read_config_file)


def default_web_dir():
    """The page to serve at / when ``--web`` is not given.

    An installed wampchat carries its page as package data (``wampchat/static/``,
    copied from web/ and npm's AutobahnJS when the wheel is built, see setup.py);
    a source checkout or editable install has none there and serves the
    repository's ``web/`` beside the package, with AutobahnJS in its node_modules.
    """
    package_dir = os.path.dirname(os.path.realpath(__file__))  # realpath: strict editable installs link files
    packaged = os.path.join(package_dir, "static")
    if os.path.isfile(os.path.join(packaged, "index.html")):
        return packaged
    return os.path.join(os.path.dirname(package_dir), "web")


DEFAULT_WEB = default_web_dir()


def _check_endpoint(description, origin):
    """Parse an endpoint string now, so a typo fails at startup with a clear message."""
    from twisted.internet import endpoints, reactor

    try:
        endpoints.serverFromString(reactor, description)
    except (ValueError, KeyError, TypeError) as e:
        raise usage.UsageError(f"{origin} {description!r} is not a valid Twisted server endpoint: {e}")


def _option_coercer(setting):
    """The command line's coercer for ``setting``: the shared check, its complaint naming the option."""

    def coerce(value):
        try:
            return setting.coerce(value)
        except ValueError as e:
            raise usage.UsageError(f"{setting.option} {e}") from None  # not ValueError: usage would prefix it

    return coerce


def one_line_reason(error: usage.UsageError) -> str:
    """A UsageError as one line; getopt's own ("option --x not recognized") gets where to look."""
    reason = " ".join(str(error).split())
    if reason.startswith("option "):
        reason += " (twistd wampchat --help lists the options)"
    return reason


# Per-session limits: option -> RouterConfig field.
SESSION_LIMIT_OPTIONS = {
    "max-subscriptions": "max_subscriptions",
    "max-registrations": "max_registrations",
    "max-calls-in-flight": "max_calls_in_flight",
}

CONFIG_FILE_HELP = (
    "A TOML file with any of the settings below, each under its long option's name "
    "(listen = [\"tcp:8080\"], db = \"...\", no-guests = true); the command line wins over it. "
    "[default: none]")


class Options(usage.Options):
    """Options for ``twistd wampchat``, made from :data:`wampchat.settings.SETTINGS`.

    Every parameter's usage default is None, so after parsing we can tell
    "given on the command line" from "not given": ``postOptions`` then fills
    the rest from ``--config-file`` and finally from the settings' defaults,
    and checks the result, naming the option or the file's key.
    """

    synopsis = "[options]"
    longdesc = ("A real-time chat server that is also an embedded WAMP router. Every option can also be set "
                "in a --config-file TOML file, under the option's name without the dashes, as shown in [file: ...].")

    optFlags = [[s.name, None, s.help_line()] for s in SETTINGS if s.kind == FLAG]
    optParameters = [["config-file", None, None, CONFIG_FILE_HELP]] + [
        [s.name, None, None, s.help_line(), _option_coercer(s)] for s in SETTINGS if s.kind not in (FLAG, LIST)]

    def __init__(self):
        super().__init__()
        self["listen"] = []
        self["rawsocket"] = []
        self["trusted-proxy"] = []
        self["event-history"] = []
        self.from_file = {}   # settings taken from --config-file
        self.config_path = None

    def parseOptions(self, options=None):
        """Parse, and under twistd turn a bad option into one line and exit status 1.

        twistd answers a UsageError with the whole usage text and the reason
        last; a user who mistyped one value wants only the reason, so as a
        twistd subcommand (``parent`` set) the reason is the whole output.
        Parsed on its own (tests, embedders) this raises UsageError as usual.
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            if self.parent is None:
                raise
            raise SystemExit(f"wampchat: {one_line_reason(e)}") from None

    def parseArgs(self, *args):
        if args:
            raise usage.UsageError(f"unexpected argument {args[0]!r}: every setting is an option, e.g. --listen "
                                   "tcp:8080 (twistd wampchat --help lists them)")

    def opt_listen(self, endpoint):
        self["listen"].append(endpoint)

    opt_listen.__doc__ = BY_NAME["listen"].help_line()

    def opt_rawsocket(self, endpoint):
        self["rawsocket"].append(endpoint)

    opt_rawsocket.__doc__ = BY_NAME["rawsocket"].help_line()

    def opt_trusted_proxy(self, cidr):
        self["trusted-proxy"].append(cidr)

    opt_trusted_proxy.__doc__ = BY_NAME["trusted-proxy"].help_line()

    def opt_event_history(self, rule):
        self["event-history"].append(rule)

    opt_event_history.__doc__ = BY_NAME["event-history"].help_line()

    def origin(self, name):
        """How an error names setting ``name``: ``--name``, or ``FILE: name`` when the value came from the file."""
        if name in self.from_file:
            return f"{self.config_path}: {name}"
        return f"--{name}"

    def _merge(self):
        """Command line, then the config file, then the defaults: every setting gets its value."""
        if self["config-file"]:
            self.config_path = self["config-file"]
            try:
                file_values = read_config_file(self.config_path)
            except ConfigFileError as e:
                raise usage.UsageError(str(e))
        else:
            file_values = {}
        for setting in SETTINGS:
            given = self[setting.name]
            if setting.kind == LIST:
                given = given or None
            elif setting.kind == FLAG:
                given = given or None  # a flag on the command line can only switch something on
            if given is None and setting.name in file_values:
                self.from_file[setting.name] = given = file_values[setting.name]
            if given is None:
                given = list(setting.default) if setting.kind == LIST else setting.default
            self[setting.name] = bool(given) if setting.kind == FLAG else given
        if self["web"] is None:
            self["web"] = DEFAULT_WEB

    def postOptions(self):
        self._merge()
        for endpoint in self["listen"]:
            _check_endpoint(endpoint, self.origin("listen"))
        for endpoint in self["rawsocket"]:
            _check_endpoint(endpoint, self.origin("rawsocket"))
        try:
            parse_networks(self["trusted-proxy"])
        except ValueError as e:
            raise usage.UsageError(f"{self.origin('trusted-proxy')}: {e}")
        if self["node-timeout"] <= self["node-heartbeat"]:
            raise usage.UsageError(f"{self.origin('node-timeout')} ({self['node-timeout']}) must be longer than "
                                   f"node-heartbeat ({self['node-heartbeat']})")
        if self["node-id"] is None:
            self["node-id"] = os.urandom(4).hex()
        elif not re.match(r"^[a-z0-9]{1,16}$", self["node-id"]):
            raise usage.UsageError(f"{self.origin('node-id')} must be 1..16 characters of a-z and 0-9")
        from wampchat.storage import StartupError, engine_for

        try:
            engine_for(self["db"])
        except StartupError as e:
            message = str(e)
            if "db" in self.from_file and message.startswith("--db"):
                message = self.origin("db") + message[len("--db"):]
            raise usage.UsageError(message)
        if self["amqp"]:
            from wampchat.amqp import settings_from_options

            self["amqp_settings"] = settings_from_options(self, self.origin)
        self["router_config"] = self._router_config()

    def _router_config(self):
        limits = {field: self[option] for option, field in SESSION_LIMIT_OPTIONS.items()}
        try:
            history = [parse_rule(rule) for rule in self["event-history"]]
        except ValueError as e:
            raise usage.UsageError(f"{self.origin('event-history')}: {e}")
        config = RouterConfig(realm=self["realm"], max_message_size=self["max-message-size"],
                              outbound_buffer=self["outbound-buffer"], event_history=history, **limits)
        if self["config"]:
            try:
                config = load_config(self["config"], config)
            except ConfigError as e:
                prefix = f"{self.config_path}: config: " if "config" in self.from_file else ""
                raise usage.UsageError(prefix + str(e))
        if self["no-guests"]:
            config.allow_guests = False
        return config


def makeService(options, reactor=None):
    """The service tree for ``twistd wampchat``; a database or a port that cannot be used stops the start
    with one line."""
    from wampchat.storage import StartupError

    try:
        root = build_service(options, reactor)
    except StartupError as e:
        raise SystemExit(f"wampchat: {e}")
    root.exit_on_listen_failure = True
    collect_garbage_less_often()
    return root


# A join allocates a few hundred objects, most of which live as long as the session. With CPython's
# default thresholds (700, 10, 10) they are traversed by several young collections before they settle;
# in a reconnect storm that was about an eighth of the node's CPU per join. Young collections every
# 10,000 allocations hold back at most that many objects' worth of unreclaimed cycles.
GC_THRESHOLDS = (10_000, 50, 50)


def collect_garbage_less_often() -> None:
    """Set the collector thresholds of the process ``makeService`` builds a node in (twistd's);
    ``build_service``, which embedders call, leaves the collector as it is."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)
