"""Reads of the feed generator: which feeds exist and what each one lists (its skeleton).

A skeleton lists post at-URIs, so only events with a linked post (their announcement, the event's
conversation) can be in a feed: an event without one has nothing the Bluesky app could show.
Other apps' events carry no post of ours and are not in these feeds (yet).

An empty feed is an empty `feed` list: the skeleton has no field for a message, and the Bluesky app
shows its own "this feed is empty" text. Why a feed is empty is written in each feed's description
(describeFeedGenerator and the feed record): people you follow host nothing upcoming with a post,
or the community has nothing upcoming.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from elonara.models import Community, Event
from elonara.selectors import event_listed_q
from feeds.models import CommunityFeed
from network.selectors import hosts_labelled_hidden_q

FEED_COLLECTION = "app.bsky.feed.generator"
FOLLOWS_RKEY = "upcoming-follows"
COMMUNITY_RKEY_PREFIX = "community-"
LIMIT_DEFAULT = 30
LIMIT_MAX = 100  # the lexicon's bound


@dataclass(frozen=True, slots=True)
class FeedSpec:
    rkey: str
    display_name: str  # at most 24 graphemes (the record's lexicon)
    description: str
    community_id: int | None = None
    personal: bool = False


@dataclass(frozen=True, slots=True)
class Skeleton:
    posts: list[str]
    cursor: str | None

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"feed": [{"post": uri} for uri in self.posts]}
        if self.cursor:
            body["cursor"] = self.cursor
        return body


def service_did() -> str:
    """Our feed generator's DID: the setting, else did:web of the public host."""
    if settings.FEEDS_SERVICE_DID:
        return settings.FEEDS_SERVICE_DID
    host = settings.ELONARA_PUBLIC_URL.split("://", 1)[-1].split("/", 1)[0]
    # did:web encodes a port's colon as %3A.
    return "did:web:" + host.replace(":", "%3A")


FOLLOWS_FEED = FeedSpec(
    rkey=FOLLOWS_RKEY,
    display_name="Upcoming from my follows",
    description=("Upcoming events hosted on Elonara by people you follow, soonest first: each one's "
                 "announcement post. Empty when nobody you follow has an upcoming event with a post."),
    personal=True,
)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def community_feed_spec(community: Community) -> FeedSpec:
    return FeedSpec(
        rkey=f"{COMMUNITY_RKEY_PREFIX}{community.pk}",
        display_name=_short(community.name, 24),
        description=_short(f"Upcoming events of {community.name} on Elonara, soonest first: each one's "
                           "announcement post. Empty when the community has no upcoming event with a post.", 300),
        community_id=community.pk,
    )


def feed_specs() -> list[FeedSpec]:
    """Every feed we serve: the personal one and one per community that wants one."""
    communities = Community.objects.filter(bluesky_feed__isnull=False).order_by("pk")
    return [FOLLOWS_FEED, *(community_feed_spec(c) for c in communities)]


def feed_spec_for(*, rkey: str) -> FeedSpec | None:
    """The feed a record key names, or None (unknown, or a community that no longer wants one)."""
    if rkey == FOLLOWS_RKEY:
        return FOLLOWS_FEED
    number = rkey.removeprefix(COMMUNITY_RKEY_PREFIX)
    if rkey.startswith(COMMUNITY_RKEY_PREFIX) and number.isdigit():
        feed = CommunityFeed.objects.select_related("community").filter(community_id=int(number)).first()
        return community_feed_spec(feed.community) if feed else None
    return None


def cursor_encode(starts_at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{starts_at.isoformat()}|{pk}".encode()).rstrip(b"=").decode()


def cursor_decode(cursor: str) -> tuple[datetime, int] | None:
    """The position an opaque cursor names, or None when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    when, _, pk = text.partition("|")
    starts_at = parse_datetime(when) if when else None
    if starts_at is None or not pk.isdigit() or timezone.is_naive(starts_at):
        return None
    return starts_at, int(pk)


def _listed(now: datetime) -> QuerySet[Event]:
    # A feed is for what one can still go to: cancelled events are left out (a Bluesky feed cannot
    # mark them, unlike our own lists). Nor an event whose host's Bluesky profile carries a hiding
    # label (network.selectors.hosts_labelled_hidden_q), as on Upcoming. (Each reader's own blocks
    # and mutes, and labels on the post itself, the App View applies when it hydrates the skeleton.)
    return (Event.objects.filter(event_listed_q(now=now), status=Event.Status.SCHEDULED, conversation__isnull=False)
            .exclude(hosts_labelled_hidden_q()))


def _dids_rows(dids: Iterable[str] | QuerySet) -> QuerySet | RawSQL | list[str]:
    if isinstance(dids, QuerySet):
        return dids
    if connection.vendor == "postgresql":
        # Thousands of follows as one text parameter (a DID has no comma): an IN list of 5,000
        # placeholders, or an array of 5,000 strings, costs more to build and plan than the query.
        return RawSQL("SELECT unnest(string_to_array(%s, ','))", (",".join(dids),))
    return list(dids)


def hosted_by_q(dids: Iterable[str] | QuerySet) -> Q:
    """Events whose host posts as one of these accounts (OAuth connection or app password). Both
    relations are one-to-one, so an event comes out once."""
    rows = _dids_rows(dids)
    return Q(host__bluesky_identity__did__in=rows) | Q(host__bluesky_app_password__did__in=rows)


def skeleton_page(*, events: QuerySet[Event], limit: int, cursor: str | None) -> Skeleton:
    """One page of post URIs, soonest first, in one query; the cursor is the last item's place."""
    if cursor:
        position = cursor_decode(cursor)
        if position is None:
            return Skeleton(posts=[], cursor=None)
        starts_at, pk = position
        events = events.filter(Q(starts_at__gt=starts_at) | Q(starts_at=starts_at, pk__gt=pk))
    ordered = events.order_by("starts_at", "pk").values_list("starts_at", "pk", "conversation__post_uri")
    rows = list(ordered[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = cursor_encode(rows[-1][0], rows[-1][1]) if more else None
    return Skeleton(posts=[uri for _s, _pk, uri in rows], cursor=next_cursor)


def follows_skeleton(*, follows: Iterable[str] | QuerySet, limit: int, cursor: str | None,
                     now: datetime | None = None) -> Skeleton:
    return skeleton_page(events=_listed(now or timezone.now()).filter(hosted_by_q(follows)),
                         limit=limit, cursor=cursor)


def community_skeleton(*, community_id: int, limit: int, cursor: str | None,
                       now: datetime | None = None) -> Skeleton:
    return skeleton_page(events=_listed(now or timezone.now()).filter(community_id=community_id),
                         limit=limit, cursor=cursor)
