"""
The chat tables: every chat SQL statement, one module per domain, over one database.

As in Synapse's storage layer, each module holds the statements of one
domain as plain functions of an open transaction (``fn(tx, ...)``), which
:class:`~wampchat.storage.database.Database` runs on its threads and
``wampchat-admin`` runs directly; :class:`~wampchat.storage.chat.store.ChatStore`
is the asynchronous face the chat service calls.

- :mod:`.rows`: rows into Room and Message objects, and the keys names are compared by
- :mod:`.accounts`: users, credentials, display names, name keys
- :mod:`.rooms`: rooms, DMs and the room list
- :mod:`.members`: memberships and read markers
- :mod:`.changes`: what every change to a message takes (its lock, the room's change number)
- :mod:`.messages`: history, changes, edits and deletes, and the byte budget of an answer
- :mod:`.reactions`: reactions
- :mod:`.search`: full-text search, and the parts of it that differ per engine
- :mod:`.presence`: who is online on which node, and the nodes' heartbeats
- :mod:`.rates`: rate limits every node counts against
- :mod:`.sends`: the send batch: a message's rows built and written in one place
- :mod:`.store`: :class:`ChatStore`, the Deferred-returning facade
"""
