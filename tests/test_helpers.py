"""The test helpers themselves: ``read_body`` reads an Agent response as Twisted's ``readBody`` does, without its warning."""
import warnings

import pytest_twisted
from twisted.internet import defer
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web._newclient import TransportProxyProducer
from twisted.web.client import Agent, PartialDownloadError, Response
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers

from helpers import read_body

STORE_INDEPENDENT = True  # an HTTP read: one store is enough (see conftest)


async def get_response(url: str):
    from twisted.internet import reactor

    return await Agent(reactor).request(b"GET", url.encode("ascii"))


@pytest_twisted.ensureDeferred
async def test_read_body_reads_the_whole_body_without_a_deprecation_warning(server):
    """readBody warns that Agent's transport has no abortConnection; read_body reads the same body silently."""
    response = await get_response(server.http_url + "/healthz")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        body = await read_body(response)
    assert response.code == 200 and b'"status"' in body
    assert [str(w.message) for w in caught] == []


def unread_response(transport: StringTransport) -> Response:
    """A 200 response whose body has not arrived yet, over Agent's own kind of transport proxy."""
    return Response((b"HTTP", 1, 1), 200, b"OK", Headers(), TransportProxyProducer(transport))


def test_read_body_reports_a_body_cut_short_as_partial():
    """A body that ends without its declared length fails with the partial body, as readBody's does."""
    response = unread_response(StringTransport())
    reading = read_body(response)
    response._bodyDataReceived(b"half")
    response._bodyDataFinished(Failure(PotentialDataLoss()))
    failure = unwrap_failure(reading)
    assert failure.check(PartialDownloadError) and failure.value.response == b"half"


def test_cancelling_read_body_fails_it_and_stops_the_transport():
    """A cancelled read fails with CancelledError and stops the connection instead of hanging."""
    transport = StringTransport()
    reading = read_body(unread_response(transport))
    reading.cancel()
    assert unwrap_failure(reading).check(defer.CancelledError)
    assert transport.producerState == "stopped"


def unwrap_failure(d: defer.Deferred) -> Failure:
    """The Failure a Deferred has already failed with (the test fails if it has not)."""
    failures = []
    d.addErrback(failures.append)
    assert len(failures) == 1, "the Deferred did not fail"
    return failures[0]
