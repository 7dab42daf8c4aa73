"""``@name`` mentions in message text: which names a message mentions (whether they are users is the send's to say)."""
import re

MENTIONS_MAX = 20          # distinct @names looked at per message; more are plain text
# "@name" not glued to a word before it (so "ann@example.com" is no mention) nor after it;
# matched ignoring case, since usernames are lowercase anyway
MENTION_RE = re.compile(r"(?<![A-Za-z0-9_@.])@([A-Za-z0-9_]{2,32})(?![A-Za-z0-9_])")


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
