"""
Argument checks: each takes what a caller sent and returns it, or refuses with invalid_argument.

Ids and names appear inside topic URIs and SQL parameters, so only the shapes
below get that far; page sizes are bounded so no answer grows without limit.
"""
import re
import unicodedata

from wampchat.chat.errors import INVALID, fail

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
