"""
Chat objects, argument checks and message ids.

Every check raises ``ApplicationError`` with one of the API's error URIs, so
a procedure can validate in one line and the caller gets an error it can act on.
"""
import re

from autobahn.wamp.exception import ApplicationError

INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"
FORBIDDEN = "wampchat.error.forbidden"
CONFLICT = "wampchat.error.conflict"
RATE_LIMITED = "wampchat.error.rate_limited"
UNAVAILABLE = "wampchat.error.unavailable"

USERNAME_RE = re.compile(r"^[a-z0-9_]{2,32}$")
ROOM_ID_RE = re.compile(r"^[a-z0-9_]{2,64}$")
ANY_ROOM_ID_RE = re.compile(r"^[a-z0-9_]{2,72}$")  # DM ids (dm_<a>_<b>) can be longer than created rooms
MESSAGE_ID_RE = re.compile(r"^[0-9]{17}[a-z0-9]{1,16}$")
TEXT_MAX = 4000
TITLE_MAX = 100
PASSWORD_MIN, PASSWORD_MAX = 8, 1024
HISTORY_DEFAULT, HISTORY_MAX = 50, 200
LOBBY = "lobby"


def fail(uri, text):
    """Raise the API error ``uri``; the router sends it to the caller as a WAMP ERROR."""
    raise ApplicationError(uri, text)


def check_username(value, name="username"):
    """Usernames appear inside topic URIs, so only ^[a-z0-9_]{2,32}$ is allowed."""
    if not isinstance(value, str) or not USERNAME_RE.match(value):
        fail(INVALID, f"{name} must match {USERNAME_RE.pattern}")
    return value


def check_room_id(value, creating=False):
    """Room ids appear inside topic URIs; created rooms are 2..64 long and not dm_*."""
    pattern = ROOM_ID_RE if creating else ANY_ROOM_ID_RE
    if not isinstance(value, str) or not pattern.match(value):
        fail(INVALID, f"room_id must match {ROOM_ID_RE.pattern}")
    if creating and value.startswith("dm_"):
        fail(INVALID, "room ids starting with dm_ are reserved for direct messages")
    return value


def check_message_id(value, name="message_id"):
    """History cursors and targets must look like our ids, so nothing odd reaches SQL."""
    if not isinstance(value, str) or not MESSAGE_ID_RE.match(value):
        fail(INVALID, f"{name} must be a message id string")
    return value


def check_text(value):
    """Message text: 1..4000 characters after stripping; stored as given."""
    if not isinstance(value, str):
        fail(INVALID, "text must be a string")
    if not 1 <= len(value.strip()) <= TEXT_MAX:
        fail(INVALID, f"text must be 1..{TEXT_MAX} characters (after stripping)")
    return value


def check_title(value, default):
    """A room title (stripped), or ``default`` when none is given."""
    if value is None:
        return default
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= TITLE_MAX:
        fail(INVALID, f"title must be a string of 1..{TITLE_MAX} characters")
    return value.strip()


def check_bool(value, name):
    """Only real booleans: "false" or 0 would be too easy to get wrong."""
    if not isinstance(value, bool):
        fail(INVALID, f"{name} must be true or false")
    return value


def check_limit(value):
    """A history page size, 1..200 (50 when not given)."""
    if value is None:
        return HISTORY_DEFAULT
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= HISTORY_MAX:
        fail(INVALID, f"limit must be an integer 1..{HISTORY_MAX}")
    return value


def check_password(value):
    """8..1024 characters: long enough to mean something, short enough to hash cheaply."""
    if not isinstance(value, str) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        fail(INVALID, f"password must be {PASSWORD_MIN}..{PASSWORD_MAX} characters")
    return value


def check_client_msg_id(value):
    """The idempotency key of a send: optional, a string of 1..128 characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        fail(INVALID, "client_msg_id must be a string of 1..128 characters")
    return value


def dm_room_id(a, b):
    """The one DM room of two users, the same whoever opens it."""
    first, second = sorted((a, b))
    return f"dm_{first}_{second}"


class MessageIds:
    """Message ids: 13-digit ms time, 4-digit sequence, node id.

    They are unique across nodes (the node id), and sort in acceptance order
    on one node even if the wall clock steps back (time never goes below the
    last id's).
    """

    def __init__(self, node_id, clock):
        if not re.match(r"^[a-z0-9]{1,16}$", node_id):
            raise ValueError("node id must be 1..16 lowercase letters or digits")
        self.node_id = node_id
        self._clock = clock
        self._last_ms = 0
        self._seq = 0

    def next(self):
        """A new id and its timestamp in ms."""
        now = int(self._clock.seconds() * 1000)
        if now > self._last_ms:
            self._last_ms, self._seq = now, 0
        else:
            self._seq += 1
            if self._seq > 9999:
                self._last_ms, self._seq = self._last_ms + 1, 0
        return f"{self._last_ms:013d}{self._seq:04d}{self.node_id}", self._last_ms


def room_dict(row):
    """A Room object from a rooms row."""
    return {"id": row["id"], "title": row["title"], "private": bool(row["private"]),
            "owner": row["owner"], "created": row["created"]}


def message_dict(row):
    """A Message object from a messages row (deleted messages keep only their identity)."""
    msg = {"id": row["id"], "room": row["room"], "user": row["user"], "nick": row["nick"],
           "text": "" if row["deleted"] else row["text"], "ts": row["ts"]}
    if row["edited"]:
        msg["edited"] = row["edited"]
    if row["deleted"]:
        msg["deleted"] = True
    if row["client_msg_id"]:
        msg["client_msg_id"] = row["client_msg_id"]
    return msg
