"""One router across nodes: which node has callees for which procedure.

``cluster_registrations`` has one row per (node, uri, match) with a callee
on that node, and its invoke policy. A ``single`` registration is unique in
the cluster: a node claims it in a transaction that sees every live node's
rows. A node's rows go when it leaves, and with it when it dies (the node
that clears a dead node's presence clears them too).
"""


def upgrade(tx, engine):
    tx.execute("CREATE TABLE cluster_registrations (node TEXT NOT NULL, uri TEXT NOT NULL, match TEXT NOT NULL, "
               "invoke TEXT NOT NULL, created BIGINT NOT NULL, PRIMARY KEY (node, uri, match))")
    tx.execute("CREATE INDEX cluster_registrations_by_uri ON cluster_registrations (uri, match)")
