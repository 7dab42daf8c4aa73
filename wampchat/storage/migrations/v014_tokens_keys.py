"""API tokens, Cryptosign public keys and incoming webhooks (API §11).

- ``api_tokens``: a user's tokens; ``token_hash`` is the SHA-256 of the
  token (never the token), ``last_used`` when it last logged in or
  authorized an HTTP request (ms).
- ``auth_keys``: Ed25519 public keys (hex) a user logs in with
  (WAMP-Cryptosign); a key belongs to one user.
- ``webhooks``: a room's incoming webhooks; ``secret_hash`` is the SHA-256
  of the secret in its URL; messages are posted as ``hook_<id>``.
"""


def upgrade(tx, engine):
    tx.execute("CREATE TABLE api_tokens (id TEXT PRIMARY KEY, username TEXT NOT NULL, name TEXT NOT NULL, "
               "token_hash TEXT NOT NULL, created BIGINT NOT NULL, last_used BIGINT)")
    tx.execute("CREATE INDEX api_tokens_by_user ON api_tokens (username, created)")
    tx.execute("CREATE TABLE auth_keys (pubkey TEXT PRIMARY KEY, username TEXT NOT NULL, comment TEXT, "
               "created BIGINT NOT NULL)")
    tx.execute("CREATE INDEX auth_keys_by_user ON auth_keys (username)")
    tx.execute("CREATE TABLE webhooks (id TEXT PRIMARY KEY, room TEXT NOT NULL, name TEXT NOT NULL, "
               "secret_hash TEXT NOT NULL, creator TEXT NOT NULL, created BIGINT NOT NULL)")
    tx.execute("CREATE INDEX webhooks_by_room ON webhooks (room, created)")
