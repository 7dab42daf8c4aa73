"""
Chat objects, argument checks and message ids.

Every check raises ``ApplicationError`` with one of the API's error URIs, so
a procedure can validate in one line and the caller gets an error it can act on.
"""
import hashlib
import re
import unicodedata

from autobahn.wamp.exception import ApplicationError

from wampchat.names import name_skeleton

INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"
FORBIDDEN = "wampchat.error.forbidden"
CONFLICT = "wampchat.error.conflict"
RATE_LIMITED = "wampchat.error.rate_limited"
UNAVAILABLE = "wampchat.error.unavailable"

USERNAME_RE = re.compile(r"^[a-z0-9_]{2,32}$")
ROOM_ID_RE = re.compile(r"^[a-z0-9_]{2,64}$")
ANY_ROOM_ID_RE = re.compile(r"^[a-z0-9_]{2,72}$")  # DM ids (dm_<n>_<a>_<b>) can be longer than created rooms
MESSAGE_ID_RE = re.compile(r"^[0-9]{17}[a-z0-9]{1,16}$")
TEXT_MAX = 4000
TITLE_MAX = 100
PASSWORD_MIN, PASSWORD_MAX = 8, 1024
HISTORY_DEFAULT, HISTORY_MAX = 50, 200
SEARCH_DEFAULT, SEARCH_MAX = 20, 100
MEMBERS_MAX = 1000         # members one answer lists (chat.room.members pages on with ``after``)
ROOMS_MAX = 500            # rooms one chat.room.list answer lists (it pages on with ``after``)
EMOJI_MAX = 16
MENTIONS_MAX = 20          # distinct @names looked at per message; more are plain text
LOBBY = "lobby"
# "@name" not glued to a word before it (so "ann@example.com" is no mention) nor after it;
# matched ignoring case, since usernames are lowercase anyway
MENTION_RE = re.compile(r"(?<![A-Za-z0-9_@.])@([A-Za-z0-9_]{2,32})(?![A-Za-z0-9_])")


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
    """Message text: at most 4000 characters as given, and not only whitespace; stored exactly as given.

    The length is checked on the text that is stored (whitespace around it
    included), so no padding makes a stored message longer than the limit.
    """
    if not isinstance(value, str):
        fail(INVALID, "text must be a string")
    if len(value) > TEXT_MAX or not value.strip():
        fail(INVALID, f"text must be 1..{TEXT_MAX} characters, not only whitespace")
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


def check_limit(value, default=HISTORY_DEFAULT, most=HISTORY_MAX):
    """A page size, 1..``most`` (``default`` when not given): 1..200 for history, 1..100 for search."""
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        fail(INVALID, f"limit must be an integer 1..{most}")
    return value


CURSOR_MAX = 2 ** 63 - 1   # the largest number every store's BIGINT holds


def check_cursor(value, name):
    """A change counter cursor (``changed_after``): a whole number 0..2**63-1, never a boolean."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= CURSOR_MAX:
        fail(INVALID, f"{name} must be a whole number 0..{CURSOR_MAX}")
    return value


def check_emoji(value):
    """A reaction: 1..16 characters (code points), no spaces or control characters.

    Any short text passes, not only what some emoji list knows, so new emoji
    (and ZWJ sequences such as families) work without a server upgrade; what
    is refused is what would render as blank or break a line.
    """
    if not isinstance(value, str) or not 1 <= len(value) <= EMOJI_MAX:
        fail(INVALID, f"emoji must be a string of 1..{EMOJI_MAX} characters")
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Co", "Cn") or category.startswith("Z"):
            fail(INVALID, "emoji may not contain spaces or control characters")
    return value


def mentioned_names(text):
    """The distinct @names written in ``text``, lowercased, in order of first appearance (at most 20).

    Whether each is a user who may read the room is for the send
    transaction to decide, with one query for the whole batch.
    """
    names = []
    for match in MENTION_RE.finditer(text):
        name = match.group(1).lower()
        if name not in names:
            names.append(name)
            if len(names) == MENTIONS_MAX:
                break
    return names


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


def dm_key(a, b):
    """What identifies the DM of two users, whoever opens it: their names, sorted, joined by a space (which no
    username holds, so two different pairs never share a key). Rooms keep it in ``rooms.dm_key`` (unique)."""
    return " ".join(sorted((a, b)))


def dm_room_ids(a, b):
    """The ids the DM of ``a`` and ``b`` may take, the first free one is used; none is another pair's.

    ``dm_<a>_<b>`` when neither name holds ``_`` (exactly two underscores
    then), else ``dm_<len(a)>_<a>_<b>`` (three or more, and the length tells
    where ``a`` ends). Rooms made before version 5 used ``dm_<a>_<b>`` for
    every pair, so such an old room can hold a ``dm_<len>_...`` id already:
    then the hash form ``dm_<40 hex>`` (one underscore) is used. The room is
    always found by its key, never by decoding its id.
    """
    first, second = sorted((a, b))
    readable = f"dm_{first}_{second}" if "_" not in first + second else f"dm_{len(first)}_{first}_{second}"
    digest = hashlib.sha256(dm_key(a, b).encode()).hexdigest()[:40]
    return readable, f"dm_{digest}"


class RoomClock:
    """A room's message clock: ids that sort in the order they were handed out.

    An id is 13 digits of milliseconds, 4 digits of sequence within that
    millisecond, then a database-wide number in base 36 that makes it unique
    across rooms. The clock's state lives in the room's row and is advanced
    inside the transaction that commits the message, with the row locked, so
    ids sort in commit order within a room whichever node sends, and a clock
    that steps back (or a node whose clock is behind) never makes an id
    smaller than the last one.
    """

    __slots__ = ("last_ms", "last_seq")

    def __init__(self, last_ms, last_seq):
        self.last_ms = last_ms
        self.last_seq = last_seq

    def next(self, now_ms, number):
        """The next id, given the sender's time and a fresh unique number."""
        if now_ms > self.last_ms:
            self.last_ms, self.last_seq = now_ms, 0
        elif self.last_seq >= 9999:
            self.last_ms, self.last_seq = self.last_ms + 1, 0
        else:
            self.last_seq += 1
        return f"{self.last_ms:013d}{self.last_seq:04d}{base36(number)}"


def base36(number):
    """``number`` (>= 0) in digits and lowercase letters."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def name_key(name):
    """How nicks, usernames and display names are compared for uniqueness: names that look alike (``alice`` and
    Cyrillic ``аlice``, ``Bob`` and ``bob``) have one key, their skeleton (:func:`wampchat.names.name_skeleton`)."""
    return name_skeleton(name)


def room_dict(row):
    """A Room object from a rooms row."""
    return {"id": row["id"], "title": row["title"], "private": bool(row["private"]),
            "owner": row["owner"], "created": row["created"]}


def message_dict(row):
    """A Message object from a messages row (deleted messages keep only their identity)."""
    msg = {"id": row["id"], "room": row["room"], "user": row["username"], "nick": row["nick"],
           "text": "" if row["deleted"] else row["text"], "ts": row["ts"]}
    if row["edited"]:
        msg["edited"] = row["edited"]
    if row["deleted"]:
        msg["deleted"] = True
    if row["client_msg_id"]:
        msg["client_msg_id"] = row["client_msg_id"]
    if row["mentions"] and not row["deleted"]:
        msg["mentions"] = row["mentions"].split(" ")
    return msg


def join_mentions(names):
    """How a Message's ``mentions`` are kept in its row: usernames (never with spaces) joined by one space."""
    return " ".join(names) if names else None
