"""Link previews: ``messages.preview``, a message's link preview as JSON (``{url, title, description}``).

NULL until the node that took the send has fetched the page of the message's
first link (``--link-previews``); an edit that changes that link, and a
delete, set it back to NULL.
"""


def upgrade(tx, engine):
    tx.execute("ALTER TABLE messages ADD COLUMN preview TEXT")
