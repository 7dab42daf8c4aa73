"""Message reports (API §8): chat.message.report, chat.admin.reports and chat.admin.resolve, on both stores."""
import pytest_twisted
from autobahn.wamp.exception import ApplicationError

from chatkit import error_of, payloads, world  # noqa: F401 (fixtures)

CONFLICT = "wampchat.error.conflict"
FORBIDDEN = "wampchat.error.forbidden"
INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"
RATE_LIMITED = "wampchat.error.rate_limited"


@pytest_twisted.inlineCallbacks
def den(world):
    """ann owns the public room ``den``, bob moderates it, cid and eve are members, root is a server admin; cid
    has said something reportable. The sessions by name, and cid's message."""
    world.add_admin("root")
    people = {"root": (yield world.user("root", register=False))}
    for name in ("ann", "bob", "cid", "eve"):
        people[name] = yield world.user(name)
    yield people["ann"].call("chat.room.create", "den")
    for name in ("bob", "cid", "eve"):
        yield people[name].call("chat.room.join", "den")
    yield people["ann"].call("chat.room.set_role", "den", "bob", "moderator")
    message = yield people["cid"].call("chat.message.send", "den", "buy cheap watches")
    return people, message


@pytest_twisted.inlineCallbacks
def test_a_member_and_a_guest_report_and_moderators_and_admins_are_told(world):
    people, message = yield den(world)
    notes = {}
    for name in ("ann", "bob", "root", "cid"):
        notes[name] = yield world.listen(people[name], f"chat.user.{name}.notify")
    first = yield people["eve"].call("chat.message.report", "den", message["id"], "spam")
    gus = yield world.guest("Gus")
    second = yield gus.call("chat.message.report", "den", message["id"], "  advertising  ")
    assert isinstance(first["id"], int) and second["id"] != first["id"] and set(first) == {"id"}
    for name in ("ann", "bob", "root"):
        yield notes[name].wait_for(2)
        events = payloads(notes[name])
        assert [e["event"] for e in events] == ["report", "report"], name
        report = events[0]["report"]
        assert report == {"id": first["id"], "room": "den", "message": message["id"], "author": "cid",
                          "text": "buy cheap watches", "reporter": "eve", "reason": "spam", "ts": report["ts"]}
        assert events[1]["report"]["reporter"].startswith("guest_")
        assert events[1]["report"]["reason"] == "advertising"   # kept stripped
    # cid (an ordinary member, and the author) hears of no report: the next thing cid gets is a mention
    yield people["ann"].call("chat.message.send", "den", "@cid please stop")
    yield notes["cid"].wait_for(1)
    assert [e["event"] for e in payloads(notes["cid"])] == ["mention"]


@pytest_twisted.inlineCallbacks
def test_only_what_one_may_read_can_be_reported(world):
    people, message = yield den(world)
    ann, bob, dan = people["ann"], people["bob"], (yield world.user("dan"))
    yield ann.call("chat.room.create", "hush", private=True)
    yield ann.call("chat.room.invite", "hush", "bob")
    secret = yield bob.call("chat.message.send", "hush", "a secret")
    assert (yield error_of(dan.call("chat.message.report", "hush", secret["id"], "spam"))) == NOT_FOUND
    assert (yield error_of(dan.call("chat.message.report", "nope", message["id"], "spam"))) == NOT_FOUND
    assert (yield error_of(dan.call("chat.message.report", "den", secret["id"], "spam"))) == NOT_FOUND
    assert (yield error_of(dan.call("chat.message.report", "den", "17961605075710000x", "spam"))) == NOT_FOUND
    yield people["cid"].call("chat.message.delete", "den", message["id"])
    assert (yield error_of(dan.call("chat.message.report", "den", message["id"], "spam"))) == NOT_FOUND
    assert (yield ann.call("chat.message.report", "hush", secret["id"], "leak"))["id"] >= 1   # a member may


@pytest_twisted.inlineCallbacks
def test_bad_arguments_are_invalid(world):
    people, message = yield den(world)
    eve = people["eve"]
    for reason in (None, 5, "", "   ", "x" * 501, ["spam"], {"r": "spam"}):
        assert (yield error_of(eve.call("chat.message.report", "den", message["id"], reason))) == INVALID, reason
    assert (yield error_of(eve.call("chat.message.report", "den", 5, "spam"))) == INVALID
    assert (yield error_of(eve.call("chat.message.report", "Bad Room", message["id"], "spam"))) == INVALID
    assert (yield error_of(eve.call("chat.message.report", "den", message["id"]))) == INVALID
    assert (yield error_of(eve.call("chat.message.report", "den", message["id"], "spam", extra=1))) == INVALID
    assert (yield eve.call("chat.message.report", "den", message["id"], "x" * 500))["id"] >= 1


@pytest_twisted.inlineCallbacks
def test_reporting_twice_gives_the_same_report(world):
    people, message = yield den(world)
    first = yield people["eve"].call("chat.message.report", "den", message["id"], "spam")
    again = yield people["eve"].call("chat.message.report", "den", message["id"], "really spam")
    other = yield people["bob"].call("chat.message.report", "den", message["id"], "spam")
    assert again == first and other != first
    listed = yield people["root"].call("chat.admin.reports")
    assert [(r["id"], r["reporter"], r["reason"]) for r in listed] == [(other["id"], "bob", "spam"),
                                                                         (first["id"], "eve", "spam")]


@pytest_twisted.inlineCallbacks
def test_who_sees_which_reports(world):
    people, message = yield den(world)
    dan = yield world.user("dan")
    yield dan.call("chat.room.create", "attic")
    junk = yield dan.call("chat.message.send", "attic", "junk")
    in_den = yield people["eve"].call("chat.message.report", "den", message["id"], "spam")
    in_attic = yield people["eve"].call("chat.message.report", "attic", junk["id"], "junk")
    root, ann, bob = people["root"], people["ann"], people["bob"]
    assert [r["id"] for r in (yield root.call("chat.admin.reports"))] == [in_attic["id"], in_den["id"]]
    assert [r["id"] for r in (yield root.call("chat.admin.reports", room="attic"))] == [in_attic["id"]]
    for moderator in (ann, bob):   # the owner and a moderator: their rooms' reports
        assert [r["id"] for r in (yield moderator.call("chat.admin.reports"))] == [in_den["id"]]
        assert [r["id"] for r in (yield moderator.call("chat.admin.reports", room="den"))] == [in_den["id"]]
        assert (yield error_of(moderator.call("chat.admin.reports", room="attic"))) == FORBIDDEN
    assert [r["room"] for r in (yield dan.call("chat.admin.reports"))] == ["attic"]
    gus = yield world.guest("Gus")
    for session in (people["cid"], gus):   # a member, a guest: nothing
        assert (yield error_of(session.call("chat.admin.reports"))) == FORBIDDEN
        assert (yield error_of(session.call("chat.admin.reports", room="den"))) == FORBIDDEN
    assert (yield error_of(root.call("chat.admin.reports", room="nope"))) == NOT_FOUND
    for bad in ({"open": "yes"}, {"open": 1}, {"limit": 0}, {"limit": 201}, {"limit": True}, {"room": "Bad Room"}):
        assert (yield error_of(root.call("chat.admin.reports", **bad))) == INVALID, bad
    assert len((yield root.call("chat.admin.reports", limit=1))) == 1


@pytest_twisted.inlineCallbacks
def test_resolving_is_audited_filters_and_happens_once(world):
    people, message = yield den(world)
    other = yield people["ann"].call("chat.message.send", "den", "also odd")
    first = yield people["eve"].call("chat.message.report", "den", message["id"], "spam")
    second = yield people["eve"].call("chat.message.report", "den", other["id"], "odd")
    bob = people["bob"]
    assert (yield bob.call("chat.admin.resolve", first["id"], "warned cid")) is None
    assert [r["id"] for r in (yield bob.call("chat.admin.reports"))] == [second["id"]]
    assert [r["id"] for r in (yield bob.call("chat.admin.reports", open=True))] == [second["id"]]
    done = yield bob.call("chat.admin.reports", open=False)
    assert [r["id"] for r in done] == [first["id"]]
    assert (done[0]["resolved_by"], done[0]["resolution"]) == ("bob", "warned cid")
    assert done[0]["resolved_ts"] >= done[0]["ts"] and done[0]["text"] == "buy cheap watches"
    entry = (yield people["ann"].call("chat.admin.audit", room="den"))["entries"][0]
    assert (entry["actor"], entry["action"], entry["room"], entry["target"], entry["reason"]) == \
        ("bob", "resolve_report", "den", "cid", "warned cid")
    assert (yield error_of(bob.call("chat.admin.resolve", first["id"], "again"))) == CONFLICT
    assert (yield error_of(people["root"].call("chat.admin.resolve", first["id"], "again"))) == CONFLICT
    assert (yield error_of(people["cid"].call("chat.admin.resolve", second["id"], "mine now"))) == FORBIDDEN
    assert (yield error_of(people["eve"].call("chat.admin.resolve", second["id"], "mine now"))) == FORBIDDEN
    assert (yield error_of(bob.call("chat.admin.resolve", 10 ** 9, "gone"))) == NOT_FOUND
    for bad in ((None, "x"), ("1", "x"), (True, "x"), (0, "x"), (second["id"], ""), (second["id"], "x" * 501),
                (second["id"], None)):
        assert (yield error_of(bob.call("chat.admin.resolve", *bad))) == INVALID, bad
    yield people["root"].call("chat.admin.resolve", second["id"], "fine")   # an admin may too
    assert (yield bob.call("chat.admin.reports")) == []


@pytest_twisted.inlineCallbacks
def test_a_private_rooms_reports_are_not_found_for_outsiders(world):
    people, _ = yield den(world)
    ann, bob, dan = people["ann"], people["bob"], (yield world.user("dan"))
    yield ann.call("chat.room.create", "hush", private=True)
    yield ann.call("chat.room.invite", "hush", "bob")
    secret = yield bob.call("chat.message.send", "hush", "a secret")
    report = yield ann.call("chat.message.report", "hush", secret["id"], "leak")
    assert (yield error_of(dan.call("chat.admin.resolve", report["id"], "nosy"))) == NOT_FOUND
    assert (yield error_of(dan.call("chat.admin.reports", room="hush"))) == NOT_FOUND
    assert (yield error_of(bob.call("chat.admin.resolve", report["id"], "not mine"))) == FORBIDDEN   # a member
    yield people["root"].call("chat.admin.resolve", report["id"], "handled")   # an admin, not a member


@pytest_twisted.inlineCallbacks
def test_reports_are_limited_per_user(world):
    people, _ = yield den(world)
    sent = []
    for author in ("ann", "bob", "cid"):   # 21 messages, within each author's send rate
        for n in range(7):
            sent.append((yield people[author].call("chat.message.send", "den", f"{author} {n}")))
    eve = people["eve"]
    ids = []
    for message in sent[:20]:
        ids.append((yield eve.call("chat.message.report", "den", message["id"], "spam"))["id"])
    try:
        yield eve.call("chat.message.report", "den", sent[20]["id"], "spam")
        raise AssertionError("the 21st report went through")
    except ApplicationError as e:
        assert e.error == RATE_LIMITED and 3500 < e.kwargs["retry_after"] <= 3600
    # what eve reported already is still answered; someone else may still report
    assert (yield eve.call("chat.message.report", "den", sent[0]["id"], "spam"))["id"] == ids[0]
    yield people["cid"].call("chat.message.report", "den", sent[20]["id"], "spam")
    assert len((yield people["root"].call("chat.admin.reports", limit=200))) == 21


@pytest_twisted.inlineCallbacks
def test_the_reporter_and_a_repeated_report_tell_nobody_more(world):
    people, message = yield den(world)
    ann_notes = yield world.listen(people["ann"], "chat.user.ann.notify")
    bob_notes = yield world.listen(people["bob"], "chat.user.bob.notify")
    yield people["bob"].call("chat.message.report", "den", message["id"], "spam")   # a moderator reports
    yield people["bob"].call("chat.message.report", "den", message["id"], "spam")   # and again
    yield people["cid"].call("chat.message.send", "den", "@ann @bob what?")
    yield ann_notes.wait_for(2)
    yield bob_notes.wait_for(1)
    assert [e["event"] for e in payloads(ann_notes)] == ["report", "mention"]
    assert [e["event"] for e in payloads(bob_notes)] == ["mention"]
