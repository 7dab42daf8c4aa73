"""
Link previews of new messages (``--link-previews``): the page of a message's first http(s) link is fetched in
the background, after the send was answered, and the message gains ``preview: {url, title, description}``,
announced as an edit (``chat.room.<id>.edit``).

A node fetches at most :data:`MAX_FETCHES` pages at once (past that a message
simply gets no preview) and keeps each URL's outcome, preview or none, for
:data:`CACHE_SECONDS`, so a link pasted in many rooms is fetched once. What may
be fetched is :mod:`wampchat.previews.guard`'s decision.
"""
from collections import OrderedDict
from typing import Optional

from twisted.internet import defer
from twisted.logger import Logger

from wampchat.previews.fetch import GuardedFetcher
from wampchat.previews.guard import FetchFailed
from wampchat.previews.html_meta import page_meta
from wampchat.previews.links import first_url

MAX_FETCHES = 8          # pages one node fetches at once
CACHE_SECONDS = 300.0    # how long a URL's preview (or its lack) is reused
CACHE_SIZE = 1000        # URLs remembered


def keeps_preview(message: dict, text: str) -> bool:
    """Whether an edit to ``text`` keeps the message's preview: its first link is still the previewed one."""
    preview = message.get("preview")
    return preview is not None and first_url(text) == preview["url"]


class LinkPreviews:
    """Fetches, stores and announces the previews of messages sent (or edited) on this node."""

    log = Logger()

    def __init__(self, ctx, fetcher: Optional[GuardedFetcher] = None, max_fetches: int = MAX_FETCHES,
                 cache_seconds: float = CACHE_SECONDS) -> None:
        self._ctx = ctx
        self.fetcher = fetcher or GuardedFetcher(ctx.reactor)
        self.max_fetches = max_fetches
        self.cache_seconds = cache_seconds
        self._cache: OrderedDict = OrderedDict()   # url -> (until, preview or None)
        self._fetching: dict = {}                  # url -> Deferreds waiting for its preview
        self.working: set = set()                  # Deferreds of previews being made (tests wait on them)
        self.dropped = 0                           # messages left without a preview: too many fetches at once

    def message_sent(self, room: dict, message: dict) -> None:
        """Preview ``message`` (just committed and announced) in the background, if it links to a page."""
        url = first_url(message["text"])
        if url is None:
            return
        preview = self._preview_of(url)
        if preview is None:
            self.dropped += 1
            return
        work = preview.addCallback(lambda found: defer.Deferred.fromCoroutine(self._store(found, room, message)))
        work.addErrback(lambda failure: self.log.failure("link preview of {url}", failure, url=url))
        if not work.called:
            self.working.add(work)
            work.addBoth(self._done, work)

    def _done(self, result, work):
        self.working.discard(work)
        return result

    async def _store(self, preview: Optional[dict], room: dict, message: dict) -> None:
        if preview is None:
            return
        ctx = self._ctx
        previewed = await ctx.store.set_preview(room["id"], message["id"], message["text"], preview)
        if previewed is not None:
            await ctx.publish_room(room, "edit", previewed)

    def _preview_of(self, url: str) -> Optional[defer.Deferred]:
        """Deferred of the preview of ``url`` (None for none), from the cache, a fetch under way or a new fetch;
        None when this node is at :attr:`max_fetches`."""
        now = self._ctx.reactor.seconds()
        cached = self._cache.get(url)
        if cached is not None and cached[0] > now:
            return defer.succeed(cached[1])
        answer: defer.Deferred = defer.Deferred()
        waiting = self._fetching.get(url)
        if waiting is not None:
            waiting.append(answer)
            return answer
        if len(self._fetching) >= self.max_fetches:
            return None
        self._fetching[url] = [answer]   # before fetching: a refusal answers at once
        self.fetcher.fetch(url).addCallback(self._read, url).addErrback(self._failed, url).addCallback(
            self._fetched, url)
        return answer

    @staticmethod
    def _read(page, url: str) -> Optional[dict]:
        meta = page_meta(page.body, page.charset)
        return {"url": url, **meta} if meta is not None else None

    def _failed(self, failure, url: str) -> None:
        if failure.check(FetchFailed):
            self.log.debug("no link preview of {url}: {why}", url=url, why=failure.getErrorMessage())
        else:
            self.log.info("no link preview of {url}: {why}", url=url, why=failure.getErrorMessage())
        return None

    def _fetched(self, preview: Optional[dict], url: str) -> None:
        self._cache[url] = (self._ctx.reactor.seconds() + self.cache_seconds, preview)
        self._cache.move_to_end(url)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        for answer in self._fetching.pop(url, []):
            answer.callback(preview)
