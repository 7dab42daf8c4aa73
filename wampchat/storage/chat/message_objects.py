"""Messages as the API shows them: a row with its reactions, files and, for a reply, the quote it answers."""
from wampchat.storage.chat.files import with_files
from wampchat.storage.chat.reactions import with_reactions
from wampchat.storage.chat.replies import with_replies
from wampchat.storage.chat.rows import message_dict


def messages_of(tx, rows) -> list:
    """The Messages of messages rows, with their reactions, files and quotes (one query each per page)."""
    return with_replies(tx, with_files(tx, with_reactions(tx, [message_dict(r) for r in rows])))
