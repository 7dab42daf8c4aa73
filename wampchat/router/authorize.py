"""
Authorization: static role permissions plus dynamic rules from in-process services.

Dynamic rules run first (the first with an opinion wins), then the role's
static permissions. The ``trusted`` role (in-process services) may do anything.
"""
from dataclasses import dataclass

from twisted.internet import defer

from wampchat.router.matching import MATCH_EXACT, MATCH_PREFIX, wildcard_matches

TRUSTED = "trusted"


@dataclass
class AuthorizationRequest:
    """What a rule is asked about: who wants to do what to which URI."""

    session: object
    uri: str
    action: str
    match: str = MATCH_EXACT


def literal_head(pattern, match):
    """The string every URI matched by ``pattern`` is sure to start with."""
    if match == MATCH_EXACT or match == MATCH_PREFIX:
        return pattern
    parts = pattern.split(".")
    if "" not in parts:
        return pattern
    head = parts[: parts.index("")]
    return ".".join(head) + "." if head else ""


def _static_allows(permissions, uri, action, match):
    """True when some permission rule covers the request.

    A prefix or wildcard subscription/registration is covered only by a rule
    whose scope contains every URI the pattern can match (an ``app.`` prefix
    rule covers ``app.room..message``, not ``..message``), so a pattern cannot
    reach past a permission.
    """
    for rule in permissions:
        if action not in rule["allow"]:
            continue
        rule_uri, rule_match = rule["uri"], rule.get("match", MATCH_EXACT)
        if rule_match == MATCH_PREFIX:
            if literal_head(uri, match).startswith(rule_uri):
                return True
        elif rule_match == MATCH_EXACT:
            if match == MATCH_EXACT and uri == rule_uri:
                return True
        elif match == MATCH_EXACT:
            if wildcard_matches(rule_uri.split("."), uri.split(".")):
                return True
        elif match == rule_match and uri == rule_uri:
            return True
    return False


class Authorizer:
    """Answers "may this session do this?" with True/False or a Deferred of it."""

    def __init__(self, roles):
        self._roles = roles
        self._rules = []
        self._cache = {}

    def add_rule(self, rule):
        """Add a dynamic rule (see :mod:`wampchat.router`)."""
        self._rules.append(rule)

    def role_setting(self, role, key, default):
        return self._roles.get(role, {}).get(key, default)

    def authorize(self, session, uri, action, match=MATCH_EXACT):
        if session.authrole == TRUSTED:
            return True
        if not self._rules:
            return self._static(session.authrole, uri, action, match)
        return self._decide(AuthorizationRequest(session, uri, action, match), 0)

    def _decide(self, request, start):
        for index in range(start, len(self._rules)):
            answer = self._rules[index](request)
            if isinstance(answer, defer.Deferred):
                return answer.addCallback(self._continue, request, index + 1)
            if answer is not None:
                return bool(answer)
        return self._static(request.session.authrole, request.uri, request.action, request.match)

    def _continue(self, answer, request, next_index):
        if answer is not None:
            return bool(answer)
        return self._decide(request, next_index)

    def _static(self, role, uri, action, match):
        key = (role, uri, action, match)
        allowed = self._cache.get(key)
        if allowed is None:
            permissions = self._roles.get(role, {}).get("permissions", ())
            allowed = _static_allows(permissions, uri, action, match)
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[key] = allowed
        return allowed
