"""
URI patterns: exact, prefix and wildcard matching, shared by broker and dealer.

A :class:`PatternMap` keeps one entry per (uri, match) and answers "which
entries match this concrete URI" with a dict lookup for exact entries and a
short scan for the (usually few) prefix and wildcard ones.
"""

MATCH_EXACT = "exact"
MATCH_PREFIX = "prefix"
MATCH_WILDCARD = "wildcard"
MATCH_POLICIES = (MATCH_EXACT, MATCH_PREFIX, MATCH_WILDCARD)


def wildcard_matches(pattern_parts, uri_parts):
    """True when every non-empty pattern component equals the URI's one."""
    if len(pattern_parts) != len(uri_parts):
        return False
    for want, have in zip(pattern_parts, uri_parts):
        if want and want != have:
            return False
    return True


class PatternMap:
    """Entries keyed by (uri, match); lookup by concrete URI."""

    def __init__(self):
        self._exact = {}
        self._prefix = {}
        self._wildcard = {}

    def _table(self, match):
        if match == MATCH_EXACT:
            return self._exact
        if match == MATCH_PREFIX:
            return self._prefix
        if match == MATCH_WILDCARD:
            return self._wildcard
        raise ValueError(f"unknown match policy {match!r}")

    def get(self, uri, match):
        return self._table(match).get(uri)

    def add(self, uri, match, entry):
        table = self._table(match)
        if match == MATCH_WILDCARD:
            entry.pattern_parts = tuple(uri.split("."))
        table[uri] = entry

    def remove(self, uri, match):
        self._table(match).pop(uri, None)

    def match_all(self, uri):
        """Every entry matching ``uri`` (for the broker's fan-out)."""
        found = []
        entry = self._exact.get(uri)
        if entry is not None:
            found.append(entry)
        if self._prefix:
            for prefix, entry in self._prefix.items():
                if uri.startswith(prefix):
                    found.append(entry)
        if self._wildcard:
            parts = uri.split(".")
            for entry in self._wildcard.values():
                if wildcard_matches(entry.pattern_parts, parts):
                    found.append(entry)
        return found

    def match_best(self, uri):
        """The single best entry for ``uri`` (for the dealer).

        WAMP's order: exact beats prefix, the longest prefix beats shorter
        ones, and among wildcards the one with the fewest empty components
        (then the longest literal head) wins.
        """
        entry = self._exact.get(uri)
        if entry is not None:
            return entry
        best = None
        for prefix, candidate in self._prefix.items():
            if uri.startswith(prefix) and (best is None or len(prefix) > len(best.uri)):
                best = candidate
        if best is not None:
            return best
        parts = uri.split(".")
        best_key = None
        for candidate in self._wildcard.values():
            if wildcard_matches(candidate.pattern_parts, parts):
                key = (
                    -sum(1 for p in candidate.pattern_parts if not p),
                    [bool(p) for p in candidate.pattern_parts],
                )
                if best_key is None or key > best_key:
                    best, best_key = candidate, key
        return best

    def __iter__(self):
        yield from self._exact.values()
        yield from self._prefix.values()
        yield from self._wildcard.values()

    def __len__(self):
        return len(self._exact) + len(self._prefix) + len(self._wildcard)
