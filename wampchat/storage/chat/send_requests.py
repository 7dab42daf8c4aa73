"""What a send batch is given (:class:`SendRequest`, :class:`SendRate`) and what it answers (:class:`SendOutcome`)."""


class SendRequest:
    """One message to store: where, by whom, what, and the sender's clock."""

    __slots__ = ("room", "user", "nick", "text", "ts", "client_msg_id", "admin", "address", "files", "reply_to")

    def __init__(self, room, user, nick, text, ts, client_msg_id=None, admin=False, address=None, files=(),
                 reply_to=None):
        self.room = room
        self.user = user
        self.nick = nick
        self.text = text
        self.ts = ts
        self.client_msg_id = client_msg_id
        self.admin = admin   # a server admin: read-only rooms and slow mode do not hold them back
        self.address = address   # a guest's client address: a room ban on it keeps new guests from it out
        self.files = files       # ids of the author's uploads to this room to attach (storage.chat.files)
        self.reply_to = reply_to  # the id of the message of this room it answers (storage.chat.replies)


NOT_MEMBER = "not a member"
TOO_MANY = "rate limited"
REPLY_REFUSED = "no such message to reply to"   # not a live message of this room
FILES_REFUSED = "files not attachable"   # not the author's uploads to this room, not uploaded, or sent already


class SendRate:
    """At most ``count`` messages per user in ``window_ms``, counted in the database (every node's sends)."""

    __slots__ = ("count", "window_ms")

    def __init__(self, count, window_ms):
        self.count = count
        self.window_ms = window_ms


class SendOutcome:
    """What became of a request.

    ``message`` is the stored Message (the earlier one for a repeated ``client_msg_id``, then ``created`` is
    False); ``joined`` tells that the author became a member with it; ``audience`` lists a private room's
    members (None for public rooms); ``refused`` is set, and nothing stored, when the author may not write to
    the room (``NOT_MEMBER``), has sent too much lately (``TOO_MANY``), the room is read-only (``READ_ONLY``)
    or in slow mode and their last message is too recent (``SLOW``, with ``retry_after_ms``), or the files
    are not theirs to attach (``FILES_REFUSED``); ``room`` is the Room as the batch read it.
    """

    __slots__ = ("message", "created", "joined", "audience", "refused", "retry_after_ms", "room", "thread",
                 "silenced")

    def __init__(self, message=None, created=False, joined=False, audience=None, refused=None, retry_after_ms=0,
                 room=None, thread=None):
        self.message = message
        self.created = created
        self.joined = joined
        self.audience = audience
        self.refused = refused
        self.retry_after_ms = retry_after_ms
        self.room = room
        self.thread = thread   # a reply's chain after it: {id, room, replies, last_reply} (chat.room.<id>.thread)
        self.silenced = ()     # mentioned users whose level for the room is "none" (told nothing), as of the send
