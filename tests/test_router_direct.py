"""
Direct routes in memory: an in-process service's procedures called as functions, its events published
straight to the broker (what the chat service runs on), seen from ordinary WAMP peers.
"""
import pytest
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError, TransportLost
from autobahn.wamp.types import CallResult
from twisted.internet import defer

from test_router_core import RawPeer, assert_canceled, clock, peer, realm, result_of  # noqa: F401 (fixtures)


class Service:
    """A trusted in-process session and its direct routes."""

    def __init__(self, realm):
        self.session = peer(realm, "svc", "trusted")
        self.routes = realm.service_routes(self.session, self.session.details.session)
        self.router_side = realm.session(self.session.details.session)
        self.received = []
        self.session.onMessage = self._record(self.session.onMessage)

    def _record(self, on_message):
        def record(msg):
            self.received.append(msg)
            return on_message(msg)
        return record


@pytest.fixture
def service(realm):
    return Service(realm)


def answer(caller, request):
    """The one RESULT or ERROR ``caller`` got for ``request``."""
    [got] = caller.take()
    assert got.request == request, got
    return got


def test_a_direct_procedure_gets_the_arguments_and_the_callers_identity(realm, service):
    """args and kwargs arrive as given, with CallDetails naming the caller; no INVOCATION crosses to the service."""
    seen = []

    def add(a, b, scale=1, details=None):
        seen.append(details)
        return (a + b) * scale

    result_of(service.routes.register("app.add", add))
    caller = RawPeer(realm, "alice")
    caller.send(message.Call(1, "app.add", args=[2, 3], kwargs={"scale": 10}))
    result = answer(caller, 1)
    assert isinstance(result, message.Result) and result.args == [50]
    [details] = seen
    info = realm.session_info(details.caller)
    assert (details.caller_authid, details.caller_authrole, info.authid) == ("alice", "user", "alice")
    assert details.procedure == "app.add"
    assert not any(isinstance(m, message.Invocation) for m in service.received)


def test_a_caller_cannot_pass_its_own_details(realm, service):
    """A kwarg named details is replaced by the router's, so nobody can claim another identity."""
    seen = []
    result_of(service.routes.register("app.whoami", lambda details=None: seen.append(details) or details.caller_authid))
    caller = RawPeer(realm, "mallory")
    caller.send(message.Call(1, "app.whoami", kwargs={"details": {"caller_authid": "admin"}}))
    assert answer(caller, 1).args == ["mallory"]


def test_call_result_sets_both_results_and_kwresults(realm, service):
    result_of(service.routes.register("app.pair", lambda details=None: CallResult(1, 2, total=3)))
    caller = RawPeer(realm, "alice")
    caller.send(message.Call(1, "app.pair"))
    result = answer(caller, 1)
    assert (result.args, result.kwargs) == ([1, 2], {"total": 3})


def test_application_errors_reach_the_caller_as_raised(realm, service):
    async def refuse(details=None):
        raise ApplicationError("app.error.refused", "not today", retry_after=5)

    result_of(service.routes.register("app.refuse", refuse))
    caller = RawPeer(realm, "alice")
    caller.send(message.Call(1, "app.refuse"))
    error = answer(caller, 1)
    assert isinstance(error, message.Error) and error.request_type == message.Call.MESSAGE_TYPE
    assert (error.error, error.args, error.kwargs) == ("app.error.refused", ["not today"], {"retry_after": 5})


def test_an_unexpected_exception_is_a_runtime_error_and_the_next_call_works(realm, service):
    """A bug in a procedure answers wamp.error.runtime_error (counted as an error); the service stays up."""
    calls = []

    def flaky(details=None):
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("missing")
        return "fine"

    result_of(service.routes.register("app.flaky", flaky))
    caller = RawPeer(realm, "alice")
    errors_before = realm.metrics.errors.value
    caller.send(message.Call(1, "app.flaky"))
    error = answer(caller, 1)
    assert error.error == "wamp.error.runtime_error" and "KeyError" in error.args[0]
    assert realm.metrics.errors.value > errors_before
    caller.send(message.Call(2, "app.flaky"))
    assert answer(caller, 2).args == ["fine"] and not caller.closed


def test_a_wrong_argument_shape_is_a_runtime_error_not_a_crash(realm, service):
    result_of(service.routes.register("app.one", lambda x, details=None: x))
    caller = RawPeer(realm, "alice")
    caller.send(message.Call(1, "app.one", args=[1, 2, 3]))
    assert answer(caller, 1).error == "wamp.error.runtime_error"


def test_a_slow_direct_procedure_times_out_and_its_late_result_is_dropped(realm, service, clock):
    later = defer.Deferred()
    result_of(service.routes.register("app.slow", lambda details=None: later))
    caller = RawPeer(realm, "alice")
    caller.send(message.Call(1, "app.slow", timeout=500))
    clock.advance(0.499)
    assert caller.take() == []
    clock.advance(0.001)
    assert answer(caller, 1).error == "wamp.error.timeout"
    assert not later.called, "a direct procedure is never interrupted: its work runs to its end"
    later.callback("too late")
    assert caller.take() == []
    assert service.session.details.session in [s.info.id for s in realm.all_sessions()]


@pytest.mark.parametrize("mode", ["kill", "killnowait", "skip"])
def test_cancel_answers_the_caller_at_once_and_lets_the_work_finish(realm, service, mode):
    """Every cancel mode acts as skip for a direct procedure (it announced no call_canceling)."""
    later = defer.Deferred()
    result_of(service.routes.register("app.slow", lambda details=None: later))
    caller = RawPeer(realm, "alice")
    caller.send(message.Call(7, "app.slow"))
    caller.send(message.Cancel(7, mode=mode))
    assert_canceled(caller.take())
    assert not later.called
    later.callback("done anyway")
    assert caller.take() == []


def test_a_caller_leaving_mid_call_leaves_nothing_behind(realm, service):
    later = defer.Deferred()
    result_of(service.routes.register("app.slow", lambda details=None: later))
    caller = RawPeer(realm, "alice")
    caller.send(message.Call(1, "app.slow"))
    caller.transport.close()
    later.callback("nobody listens")
    assert caller.take() == []
    assert service.router_side.invocations == {}


def test_the_service_leaving_cancels_its_pending_calls_and_its_registrations(realm, service):
    later = defer.Deferred()
    result_of(service.routes.register("app.slow", lambda details=None: later))
    caller = RawPeer(realm, "alice")
    caller.send(message.Call(1, "app.slow"))
    service.router_side.leave()  # the router ends the service's session (as on shutdown)
    assert_canceled(caller.take(), request=1)
    caller.send(message.Call(2, "app.slow"))
    assert answer(caller, 2).error == "wamp.error.no_such_procedure"


def test_registering_a_taken_uri_fails_like_autobahn(realm, service):
    result_of(service.routes.register("app.once", lambda details=None: 1))
    with pytest.raises(ApplicationError) as e:
        result_of(service.routes.register("app.once", lambda details=None: 2))
    assert e.value.error == "wamp.error.procedure_already_exists"


def test_a_direct_publication_reaches_subscribers_observers_and_the_metrics(realm, service):
    """An event published directly is an ordinary EVENT to subscribers, seen by observers (the AMQP bridge)."""
    seen = []
    realm.broker.add_observer(seen.append)
    subscriber = RawPeer(realm, "alice")
    subscriber.send(message.Subscribe(1, "app.news"))
    [subscribed] = subscriber.take()
    before = realm.metrics.publications.value
    pub_id = service.routes.publish("app.news", [{"n": 1}], {"k": "v"})
    [event] = subscriber.take()
    assert isinstance(event, message.Event) and event.subscription == subscribed.subscription
    assert (event.publication, event.args, event.kwargs) == (pub_id, [{"n": 1}], {"k": "v"})
    assert event.publisher_authid == "svc"
    [publication] = seen
    assert (publication.topic, publication.restricted, publication.publication_id) == ("app.news", False, pub_id)
    assert realm.metrics.publications.value == before + 1


def test_eligible_authid_limits_a_direct_publication(realm, service):
    seen = []
    realm.broker.add_observer(seen.append)
    alice, bob = RawPeer(realm, "alice"), RawPeer(realm, "bob")
    for p in (alice, bob):
        p.send(message.Subscribe(1, "app.secret"))
        p.take()
    service.routes.publish("app.secret", ["for alice"], eligible_authid=["alice"])
    assert [m.args for m in alice.take()] == [["for alice"]]
    assert bob.take() == []
    assert seen[0].restricted and seen[0].audience.eligible_authid == ["alice"]


def test_publishing_after_the_service_left_raises_transport_lost(realm, service):
    service.router_side.leave()  # the router ends the service's session (as on shutdown)
    with pytest.raises(TransportLost):
        service.routes.publish("app.news", ["after the end"])
