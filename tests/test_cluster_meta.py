"""The session meta API across nodes (API §10): counts, lists, gets and kills cover every node."""
import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError

from chatkit import PASSWORD, error_of
from cluster import cluster  # noqa: F401 (fixture)
from helpers import poll_until
from rabbitmq import admin, rabbitmq  # noqa: F401 (fixture)

pytestmark = [pytest.mark.rabbitmq]


async def three_with_root(cluster):
    for node in ("na", "nb", "nc"):
        await cluster.node(node)
    await admin(cluster.nodes["na"], "adduser", "root", "--role", "admin", password=PASSWORD)
    for name in ("bob", "cid"):
        await cluster.register("na", name)
    root = await cluster.user("na", "root")
    # every node knows every other once the registry has read the nodes table
    await poll_until(lambda: all(len(getattr(s.getServiceNamed("cluster").registry, "nodes", ())) == 2
                                 for s in (n.service for n in cluster.nodes.values())), timeout=10)
    return root


@pytest_twisted.ensureDeferred
async def test_count_list_and_get_cover_every_node(cluster):
    root = await three_with_root(cluster)
    bob_b, cid_c = await cluster.user("nb", "bob"), await cluster.user("nc", "cid")
    guest_c = await cluster.guest("nc", "Gus")
    listed = await root.call("wamp.session.list")
    for session in (root, bob_b, cid_c, guest_c):
        assert session._session_id in listed
    assert await root.call("wamp.session.count") == len(listed)
    assert await root.call("wamp.session.count", ["guest"]) == 1
    details = await root.call("wamp.session.get", cid_c._session_id)
    assert (details["authid"], details["authrole"]) == ("cid", "user")
    assert await error_of(root.call("wamp.session.get", 123456789)) == "wamp.error.no_such_session"


@pytest_twisted.ensureDeferred
async def test_admins_kill_sessions_on_any_node(cluster):
    root = await three_with_root(cluster)
    bob_b, bob_c, cid_c = await cluster.user("nb", "bob"), await cluster.user("nc", "bob"), await cluster.user("nc",
                                                                                                               "cid")
    guest_b = await cluster.guest("nb", "Gus")
    assert await error_of(cid_c.call("wamp.session.kill", bob_b._session_id)) == "wamp.error.not_authorized"
    assert await root.call("wamp.session.kill", guest_b._session_id, reason="wamp.close.killed",
                           message="bye") is None
    assert (await guest_b.left).reason == "wamp.close.killed"
    bobs = sorted([bob_b._session_id, bob_c._session_id])
    assert sorted(await root.call("wamp.session.kill_by_authid", "bob")) == bobs
    for session in (bob_b, bob_c):
        await session.left
    assert await root.call("wamp.session.kill_by_authrole", "user") == 1      # cid; root is an admin
    await cid_c.left
    with pytest.raises(ApplicationError) as missing:
        await root.call("wamp.session.kill", 987654321)
    assert missing.value.error == "wamp.error.no_such_session"
