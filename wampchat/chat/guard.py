"""
How a chat procedure fails: the caller always gets an error it can act on, never an internal error.

:func:`guarded` wraps each procedure the service registers. A call whose
arguments do not fit the procedure is ``invalid_argument``; a database that
is away is ``unavailable`` (a warning: the caller may retry); anything else
unexpected is logged with its traceback and answered as ``unavailable``.
"""
import functools
import inspect

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from wampchat.chat.errors import INVALID, UNAVAILABLE, fail
from wampchat.storage import StoreUnavailable

log = Logger()


def guarded(fn):
    """Wrap a procedure so wrong argument shapes become invalid_argument, not internal errors.

    The wrapper is a plain function: it returns the procedure's value, or a
    Deferred (a coroutine's is wrapped in one), with the same errors mapped
    on it. A plain procedure (the send's fast path) stays free of coroutines.
    """
    name = fn.__name__
    is_async = inspect.iscoroutinefunction(fn)
    binds = None if is_async else _binding_check(fn)

    @functools.wraps(fn)
    def procedure(*args, **kwargs):
        if binds is not None:
            binds(args, kwargs)
        try:
            result = fn(*args, **kwargs)  # a coroutine function binds its arguments here; none of its body runs
        except TypeError as e:
            if is_async:
                fail(INVALID, f"bad arguments: {e}")
            _procedure_error(Failure(), name)
        except ApplicationError:
            raise
        except Exception:
            _procedure_error(Failure(), name)
        if is_async:
            result = defer.Deferred.fromCoroutine(result)
        if isinstance(result, defer.Deferred):
            result.addErrback(_procedure_error, name)
        return result

    return procedure


def _binding_check(fn):
    """A fast check that (args, kwargs) bind to ``fn``'s signature; the full ``inspect`` binding (and its
    message) only for calls that look wrong. Raises invalid_argument."""
    signature = inspect.signature(fn)
    ordered = tuple(signature.parameters)
    names = frozenset(ordered)
    simple = all(p.default is not p.empty and p.kind is p.POSITIONAL_OR_KEYWORD
                 for p in signature.parameters.values())

    def binds(args, kwargs):
        if simple and len(args) <= len(ordered) and names.issuperset(kwargs) and \
                kwargs.keys().isdisjoint(ordered[:len(args)]):
            return
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            fail(INVALID, f"bad arguments: {e}")
    return binds


def _procedure_error(failure, name):
    """Raise the ApplicationError a caller gets for ``failure``."""
    if failure.check(ApplicationError):
        failure.raiseException()
    if failure.check(StoreUnavailable):
        log.warn("chat procedure {name}: {e}", name=name, e=failure.value)
        raise ApplicationError(UNAVAILABLE, "the chat database is unavailable; try again shortly")
    log.failure("chat procedure {name} failed", failure=failure, name=name)
    raise ApplicationError(UNAVAILABLE, "the chat service could not complete this request")
