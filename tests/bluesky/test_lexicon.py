"""Record validation against the bundled community.lexicon schemas, and record keys of kind tid."""

import pytest

from bluesky.atproto.scopes import scope_allows_record_write
from bluesky.errors import RecordValidationError
from bluesky.lexicon import lexicon_load, record_problems, validate_record
from bluesky.records import is_tid, is_valid_rkey, tid_from_key, tid_now

EVENT = "community.lexicon.calendar.event"
RSVP = "community.lexicon.calendar.rsvp"
CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"


def event(**extra):
    return {"$type": EVENT, "name": "Picnic", "createdAt": "2026-11-26T10:00:00.000Z", **extra}


def fields(problems):
    return {p.field for p in problems}


def test_bundled_lexicons_load():
    for nsid in (EVENT, RSVP, "community.lexicon.location.address", "community.lexicon.location.geo",
                 "com.atproto.repo.strongRef"):
        assert lexicon_load(nsid)["id"] == nsid
    with pytest.raises(KeyError):
        lexicon_load("../../etc/passwd")


def test_a_full_event_is_valid():
    validate_record(EVENT, event(
        description="Bring food", startsAt="2026-12-01T10:00:00Z", endsAt="2026-12-01T13:00:00+01:00",
        mode=f"{EVENT}#hybrid", status=f"{EVENT}#cancelled",
        locations=[{"$type": "community.lexicon.location.address", "country": "PT", "locality": "Lisboa"},
                   {"$type": f"{EVENT}#uri", "uri": "https://meet.example/x", "name": "Online"},
                   {"$type": "community.lexicon.location.geo", "latitude": "38.7", "longitude": "-9.1"}],
        uris=[{"uri": "https://elonara.example/events/1/", "name": "Elonara"}],
        otherApp="extra fields are allowed",
    ))


@pytest.mark.parametrize("record, field", [
    ({"$type": EVENT, "createdAt": "2026-11-26T10:00:00Z"}, "name"),
    (event(createdAt="2026-11-26 10:00"), "createdAt"),
    (event(startsAt="2026-02-30T10:00:00Z"), "startsAt"),
    (event(name=5), "name"),
    (event(locations=[{"$type": "community.lexicon.location.address", "locality": "Lisboa"}]), "locations[0].country"),
    (event(locations=[{"$type": "community.lexicon.location.address", "country": "P"}]), "locations[0].country"),
    (event(locations=[{"$type": f"{EVENT}#uri", "uri": "not a uri"}]), "locations[0].uri"),
    (event(locations=[{"uri": "https://x.example"}]), "locations[0]"),
    (event(uris=[{"name": "no uri"}]), "uris[0].uri"),
    (event(uris="https://x.example"), "uris"),
    (event(score=1.5), "score"),
    (event(description=None), "description"),
    ({**event(), "$type": RSVP}, "$type"),
])
def test_event_problems(record, field):
    assert field in fields(record_problems(EVENT, record))
    with pytest.raises(RecordValidationError):
        validate_record(EVENT, record)


def test_open_union_accepts_a_location_type_we_do_not_know():
    assert record_problems(EVENT, event(locations=[{"$type": "com.example.place", "x": "y"}])) == []


def test_rsvp():
    good = {"$type": RSVP, "subject": {"uri": f"at://did:plc:abc/{EVENT}/3m5abc", "cid": CID},
            "status": f"{RSVP}#going", "createdAt": "2026-11-26T10:00:00.000Z"}
    validate_record(RSVP, good)
    assert "subject.cid" in fields(record_problems(RSVP, {**good, "subject": {"uri": good["subject"]["uri"],
                                                                              "cid": "nope"}}))
    assert "subject.uri" in fields(record_problems(RSVP, {**good, "subject": {"uri": "https://x", "cid": CID}}))
    assert "status" in fields(record_problems(RSVP, {k: v for k, v in good.items() if k != "status"}))
    # knownValues are a hint: another app's status value is still a valid record.
    assert record_problems(RSVP, {**good, "status": "com.example#maybe"}) == []


def test_unknown_collection_is_refused():
    assert fields(record_problems("com.example.thing", {"$type": "com.example.thing"})) == {"$type"}


def test_tids():
    assert is_tid(tid_now()) and is_valid_rkey(tid_now())
    assert tid_now() != tid_now()
    assert tid_from_key("a") == tid_from_key("a") != tid_from_key("b")
    assert all(is_tid(tid_from_key(str(n))) for n in range(500))
    assert not is_tid("zzzzzzzzzzzzz") and not is_tid("3m5abc")


@pytest.mark.parametrize("scope, action, allowed", [
    ("atproto repo:community.lexicon.calendar.event", "create", True),
    ("atproto repo:community.lexicon.calendar.event", "delete", True),
    ("atproto repo:community.lexicon.calendar.event?action=create", "update", False),
    ("atproto repo:community.lexicon.calendar.event?action=create&action=update", "update", True),
    ("atproto repo?collection=community.lexicon.calendar.event&action=delete", "delete", True),
    ("atproto repo?collection=community.lexicon.calendar.rsvp", "create", False),
    ("atproto repo:*", "update", True),
    ("atproto transition:generic", "delete", True),
    ("repo:community.lexicon.calendar.event", "create", False),
    ("atproto repo:app.bsky.feed.post", "create", False),
])
def test_scope_allows_record_write(scope, action, allowed):
    assert scope_allows_record_write(scope, EVENT, action) is allowed
