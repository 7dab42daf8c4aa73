"""The router's own INVOCATION and RESULT (wampchat/router/outgoing.py) are Autobahn's, byte for byte."""
import itertools

import pytest
from autobahn.wamp import message

from wampchat.router.outgoing import RoutedInvocation, RoutedResult
from wampchat.router.serializers import wamp_serializers

ARGS = (None, [], [1, "two", 3.5])
KWARGS = (None, {}, {"k": [True, None]})


@pytest.mark.parametrize("args,kwargs", itertools.product(ARGS, KWARGS))
def test_an_invocation_is_autobahns_on_every_serializer(args, kwargs):
    for progress, caller, procedure in ((None, None, None), (True, 7, "app.x.y"), (False, 9, None)):
        who = (caller, "alice" if caller else None, "user" if caller else None)
        ours = RoutedInvocation(5, 99, args, kwargs, progress, *who, procedure)
        theirs = message.Invocation(5, 99, args=args, kwargs=kwargs, receive_progress=progress, caller=who[0],
                                    caller_authid=who[1], caller_authrole=who[2], procedure=procedure)
        assert ours.marshal() == theirs.marshal()
        assert (ours.args, ours.kwargs, ours.caller_authid, ours.procedure) == \
            (theirs.args, theirs.kwargs, theirs.caller_authid, theirs.procedure)
        for serializer in wamp_serializers():
            assert serializer.serialize(ours) == serializer.serialize(theirs)


@pytest.mark.parametrize("args,kwargs", itertools.product(ARGS, KWARGS))
def test_a_result_is_autobahns_on_every_serializer(args, kwargs):
    for progress in (None, True):
        ours = RoutedResult(8, args=args, kwargs=kwargs, progress=progress)
        theirs = message.Result(8, args=args, kwargs=kwargs, progress=progress)
        assert ours.marshal() == theirs.marshal() and ours.progress == theirs.progress
        for serializer in wamp_serializers():
            assert serializer.serialize(ours) == serializer.serialize(theirs)
