"""Files attached to messages, their bytes, and secrets every node of a cluster shares.

- ``files``: one upload: where to (``room``), by whom, its name, the
  content type sniffed from its bytes (not the one the client claimed), its
  size and, for an image, its width and height. ``message`` is NULL until
  a send attaches it; ``upload_token_hash`` is the SHA-256 of its one-use
  upload token (NULL once used) and ``upload_expires`` when that runs out.
- ``file_blobs``: the bytes, in the database so every node serves every
  file: the ``original`` (images re-encoded without their metadata) and an
  image's ``thumbnail``, each with the content type it is served as.
- ``secrets``: values made once at the first start and read by every node
  (the key that signs file URLs).
"""

BLOB = {"sqlite": "BLOB", "postgresql": "BYTEA"}


def upgrade(tx, engine):
    false = "FALSE" if engine.name == "postgresql" else "0"
    tx.execute("CREATE TABLE files (id TEXT PRIMARY KEY, room TEXT NOT NULL, uploader TEXT NOT NULL, "
               "name TEXT NOT NULL, content_type TEXT NOT NULL, size BIGINT NOT NULL, width INTEGER, "
               "height INTEGER, created BIGINT NOT NULL, message TEXT, upload_token_hash TEXT, "
               f"upload_expires BIGINT NOT NULL, uploaded BOOLEAN NOT NULL DEFAULT {false})")
    tx.execute("CREATE INDEX files_by_message ON files (message)")
    tx.execute("CREATE INDEX files_by_uploader ON files (uploader, created)")
    tx.execute("CREATE INDEX files_unsent ON files (created) WHERE message IS NULL")
    tx.execute(f"CREATE TABLE file_blobs (file_id TEXT NOT NULL, kind TEXT NOT NULL, content_type TEXT NOT NULL, "
               f"data {BLOB[engine.name]} NOT NULL, PRIMARY KEY (file_id, kind))")
    tx.execute("CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
