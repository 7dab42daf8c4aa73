"""Link previews kept with their messages (``messages.preview``, JSON)."""
import json

from wampchat.storage.chat.changes import locked_message, next_change
from wampchat.storage.chat.messages import get_message


def set_preview(tx, room_id, message_id, text, preview):
    """Give a message its link preview, if it still says ``text`` (the text the link was found in: an edit or a
    delete meanwhile makes the preview stale) and has none yet; the Message after it, or None when unchanged."""
    row = locked_message(tx, room_id, message_id)
    if row is None or row["deleted"] or row["text"] != text or row["preview"] is not None:
        return None
    tx.execute("UPDATE messages SET preview = ?, changed = ? WHERE id = ?",
               (json.dumps(preview, ensure_ascii=False), next_change(tx, room_id), message_id))
    return get_message(tx, room_id, message_id)
