"""Testaments and retained events on one node (API §10), in memory: the router's own rules."""
from autobahn.wamp import message

from test_router_core import RawPeer, clock, realm  # noqa: F401 (fixtures)


def events_of(peer):
    return [m for m in peer.take() if isinstance(m, message.Event)]


def subscribed(peer, topic, request=1, **options):
    peer.send(message.Subscribe(request, topic, **options))
    got = peer.take()
    assert isinstance(got[0], message.Subscribed), got
    return got


def call(peer, procedure, *args, request=9, **kwargs):
    peer.send(message.Call(request, procedure, args=list(args), kwargs=kwargs or None))
    [answer] = peer.take()
    return answer


def test_a_testament_is_published_when_its_session_drops_but_not_after_goodbye(realm):
    watcher = RawPeer(realm, "ann")
    subscribed(watcher, "app.gone")
    dropping, leaving = RawPeer(realm, "bob"), RawPeer(realm, "cid")
    for peer, name in ((dropping, "bob"), (leaving, "cid")):
        answer = call(peer, "wamp.session.add_testament", "app.gone", [name], {"why": "lost"})
        assert isinstance(answer, message.Result), answer
    dropping.transport.close()                               # no GOODBYE
    leaving.send(message.Goodbye())                           # a GOODBYE first: nothing is published
    events = events_of(watcher)
    assert [(e.args, e.kwargs) for e in events] == [(["bob"], {"why": "lost"})]


def test_flush_testaments_and_the_refusals(realm):
    watcher, peer = RawPeer(realm, "ann"), RawPeer(realm, "bob")
    subscribed(watcher, "app.gone")
    call(peer, "wamp.session.add_testament", "app.gone", ["x"], request=1)
    assert call(peer, "wamp.session.flush_testaments", request=2).args == [1]
    for bad, request in ((["wamp.session.on_join", []], 3), ([5], 4), (["app.x", "not a list"], 5)):
        answer = call(peer, "wamp.session.add_testament", *bad, request=request)
        assert isinstance(answer, message.Error) and answer.error == "wamp.error.invalid_argument", answer
    answer = call(peer, "wamp.session.add_testament", "chat.room.lobby.message", [], request=6)
    assert isinstance(answer, message.Error) and answer.error == "wamp.error.not_authorized"
    peer.transport.close()
    assert events_of(watcher) == []


def test_retained_events_reach_a_later_subscriber_that_asks(realm):
    publisher = RawPeer(realm, "ann")
    publisher.send(message.Publish(1, "app.state", args=["v1"], retain=True))
    publisher.send(message.Publish(2, "app.state", args=["v2"], retain=True))
    publisher.send(message.Publish(3, "app.state", args=["not kept"]))
    publisher.send(message.Publish(4, "app.other", args=["for some"], retain=True, eligible_authid=["bob"]))
    asker, other = RawPeer(realm, "bob"), RawPeer(realm, "cid")
    got = subscribed(asker, "app.state", get_retained=True)
    assert [(e.args, e.retained) for e in got[1:]] == [(["v2"], True)]
    assert subscribed(other, "app.state")[1:] == []             # did not ask
    assert subscribed(asker, "app.other", request=2, get_retained=True)[1:] == []   # an audience: not kept


def test_event_history_keeps_the_last_events_of_the_configured_topics(clock):
    """--event-history app.news:2 and app.feed.:5 (a prefix): get_events gives a subscriber the newest first."""
    from wampchat.router import Router
    from wampchat.router.config import RouterConfig

    realm = Router(clock, RouterConfig(event_history=[("app.news", 2), ("app.feed.", 5)])).realm("wampchat")
    publisher, reader = RawPeer(realm, "ann"), RawPeer(realm, "bob")
    for n in range(3):
        publisher.send(message.Publish(n + 1, "app.news", args=[n]))
    publisher.send(message.Publish(9, "app.feed.one", args=["f1"]))
    publisher.send(message.Publish(10, "app.other", args=["not kept"]))
    news = subscribed(reader, "app.news")[0].subscription
    feed = subscribed(reader, "app.feed.", request=2, match="prefix")[0].subscription
    answer = call(reader, "wamp.subscription.get_events", news, 10, request=3)
    assert [e["args"] for e in answer.args[0]] == [[2], [1]]
    assert [e["args"] for e in call(reader, "wamp.subscription.get_events", feed, request=4).args[0]] == [["f1"]]
    refused = call(publisher, "wamp.subscription.get_events", news, request=5)   # not its subscription
    assert isinstance(refused, message.Error) and refused.error == "wamp.error.no_such_subscription"
