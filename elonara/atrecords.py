"""Events and RSVPs as community.lexicon.calendar records (the lexicons bundled in bluesky/lexicons/).

Pure mapping, no I/O: what Elonara writes, and what it reads back from other apps' records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bluesky.atproto.nsid import ADDRESS_NSID, CALENDAR_COLLECTIONS, EVENT_NSID, RSVP_NSID
from bluesky.records import at_datetime, tid_from_key

__all__ = ["ADDRESS_NSID", "EVENT_NSID", "RSVP_NSID", "at_datetime"]  # re-exported for readers of records
from elonara.cards import absolute_url
from elonara.models import RSVP, Event, ExternalRSVP

COLLECTIONS = CALENDAR_COLLECTIONS

# The keys our event record owns: on update these come from us (absent = removed); any other key
# (another app's addition) is kept as it is.
EVENT_KEYS = frozenset({"$type", "name", "description", "createdAt", "startsAt", "endsAt", "mode", "status",
                        "locations", "uris"})
RSVP_KEYS = frozenset({"$type", "subject", "status", "createdAt"})

_RSVP_TO_LEXICON: dict[str, str] = {
    RSVP.Status.GOING: f"{RSVP_NSID}#going",
    RSVP.Status.MAYBE: f"{RSVP_NSID}#interested",
    RSVP.Status.NOT_GOING: f"{RSVP_NSID}#notgoing",
}
_LEXICON_TO_EXTERNAL = {
    f"{RSVP_NSID}#going": ExternalRSVP.Status.GOING,
    f"{RSVP_NSID}#interested": ExternalRSVP.Status.INTERESTED,
    f"{RSVP_NSID}#notgoing": ExternalRSVP.Status.NOT_GOING,
}


def event_record(*, event: Event) -> dict[str, Any]:
    status = "cancelled" if event.is_cancelled else "scheduled"
    record: dict[str, Any] = {
        "$type": EVENT_NSID,
        "name": event.title,
        "createdAt": at_datetime(event.created_at),
        "startsAt": at_datetime(event.starts_at),
        "endsAt": at_datetime(event.ends_at),
        "mode": f"{EVENT_NSID}#{event.attendance_mode}",
        "status": f"{EVENT_NSID}#{status}",
    }
    if event.description:
        record["description"] = event.description
    locations: list[dict[str, Any]] = []
    if event.venue or event.country:
        if event.country:
            address: dict[str, Any] = {"$type": ADDRESS_NSID, "country": event.country.upper()}
            if event.locality:
                address["locality"] = event.locality
            if event.venue:
                address["name"] = event.venue
            locations.append(address)
    if event.online_url:
        locations.append({"$type": f"{EVENT_NSID}#uri", "uri": event.online_url, "name": "Online"})
    if locations:
        record["locations"] = locations
    # The event page: any app showing the record links back to where it can be answered here too.
    record["uris"] = [{"uri": absolute_url(event.get_absolute_url()), "name": "Elonara"}]
    return record


def rsvp_rkey(*, member_id: int, event_uri: str) -> str:
    """One record key per (member, event): a changed answer overwrites the same record."""
    return tid_from_key(f"elonara-rsvp\x00{member_id}\x00{event_uri}")


def rsvp_record(*, rsvp: RSVP | Any, event_uri: str, event_cid: str, created_at: datetime) -> dict[str, Any]:
    # `rsvp`: ours, or a member's answer to another app's event (network.models.NetworkRSVP, same status field).
    return {
        "$type": RSVP_NSID,
        "subject": {"uri": event_uri, "cid": event_cid},
        "status": _RSVP_TO_LEXICON[rsvp.status],
        "createdAt": at_datetime(created_at),
    }


def external_status(value: Any) -> str | None:
    """Our status for another app's RSVP status value (None: not one we know)."""
    return _LEXICON_TO_EXTERNAL.get(value) if isinstance(value, str) else None


def rsvp_status_from_record(value: Any) -> str | None:
    """A member's RSVP status for a record status value (maybe = interested)."""
    for ours, theirs in _RSVP_TO_LEXICON.items():
        if theirs == value:
            return ours
    return None
