"""What the operator can tune about the chat (twistd options)."""


class ChatSettings:
    """What the operator can tune (twistd options)."""

    def __init__(self, open_registration=True, send_rate=20, node_id="node", register_rate=20, create_rate=20,
                 guest_send_rate=40, dm_rate=20, dm_address_rate=60, retention_days=0,
                 max_upload=10 * 1024 * 1024, upload_quota=200 * 1024 * 1024,
                 link_previews=False):
        self.open_registration = open_registration
        self.send_rate = send_rate
        self.guest_send_rate = guest_send_rate  # messages all guests of one address may send per 10 s
        self.dm_rate = dm_rate                  # new DM rooms one user may open per hour
        self.dm_address_rate = dm_address_rate  # new DM rooms everyone at one address may open per hour
        self.register_rate = register_rate    # accounts one address may register per hour
        self.create_rate = create_rate        # rooms one user may create per hour
        self.node_id = node_id
        self.link_previews = link_previews    # fetch a preview of each new message's first link
        self.retention_days = retention_days  # days messages are kept where a room sets none (0: forever)
        self.max_upload = max_upload          # bytes one file may have
        self.upload_quota = upload_quota      # bytes one user may upload per 24 hours (all nodes)
        # names nobody may register (the broker's node users, --amqp-node-users): a chat account may
        # never share a name with a broker identity that speaks for the cluster
        self.reserved_names: frozenset = frozenset()
