"""Reads for network events and the "Upcoming" page (our events and network events together)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from heapq import merge
from typing import TypeVar

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from bluesky.atproto.nsid import EVENT_NSID
from bluesky.models import BlueskyIdentity, MemberAppPassword
from elonara.models import RSVP, Event
from elonara.selectors import event_listed_q
from members.models import Member
from network.models import Creator, FollowedAccount, FollowSync, HiddenCreator, NetworkAnswer, NetworkEvent, NetworkRSVP
from network.records import HIDING_LABELS

# One page: the soonest 30, as the home page lists (more costs template time for little use).
UPCOMING_LIMIT = 30
WHEN = {"week": timedelta(days=7), "month": timedelta(days=31)}


@dataclass(frozen=True)
class UpcomingFilters:
    when: str = ""  # "", "week", "month"
    mode: str = ""  # "", "online", "inperson"
    q: str = ""
    follows_only: bool = False
    language: str = ""  # "" or one of settings.LANGUAGES

    @classmethod
    def from_query(cls, params) -> UpcomingFilters:
        when = params.get("when", "")
        mode = params.get("mode", "")
        language = params.get("language", "")
        return cls(when=when if when in WHEN else "", mode=mode if mode in ("online", "inperson") else "",
                   q=" ".join(params.get("q", "").split())[:200], follows_only=params.get("follows") == "1",
                   language=language if language in dict(settings.LANGUAGES) else "")


@dataclass(frozen=True)
class UpcomingItem:
    starts_at: datetime
    kind: str  # "ours" or "network"
    event: Event | NetworkEvent


Rows = TypeVar("Rows", bound=QuerySet)


def _text_filter(queryset: Rows, q: str, *, title: str) -> Rows:
    if not q:
        return queryset
    if connection.vendor == "postgresql":
        # Full-text search; "simple" keeps every language's words as they are (events come in any).
        # The same expression as the GIN index of network events (migration 0002), so it is used.
        vector = SearchVector(title, "description", config="simple")
        return queryset.annotate(search=vector).filter(search=SearchQuery(q, search_type="websearch",
                                                                          config="simple"))
    words = q.split()[:8]
    for word in words:
        queryset = queryset.filter(Q(**{f"{title}__icontains": word}) | Q(description__icontains=word))
    return queryset


def _member_dids_q(field: str = "did") -> Q:
    return (Q(**{f"{field}__in": BlueskyIdentity.objects.values("did")})
            | Q(**{f"{field}__in": MemberAppPassword.objects.exclude(did="").values("did")}))


def _creators(condition: Q) -> QuerySet:
    # Filtering on creator ids (a small set) keeps the condition on network events' own rows: the
    # planner then walks them in start order and stops at the limit, instead of joining creators.
    return Creator.objects.filter(condition).values("pk")


def hosts_labelled_hidden_q() -> Q:
    """Events (ours) whose host's Bluesky account (connected or app password) carries a hiding
    label on its profile, as last read for the accounts we keep a profile of (creators of other
    apps' events): shown nowhere, since the label is the account's. For `.exclude()`; each
    subquery starts from the few labelled creators (a DID index lookup each), never from every
    member. (Staff blocking a creator concerns the events other apps make; a member's events have
    their own tools.)"""
    labelled = Creator.objects.exclude(hidden_label="").values("did")
    return (Q(host_id__in=BlueskyIdentity.objects.filter(did__in=labelled).values("member_id"))
            | Q(host_id__in=MemberAppPassword.objects.filter(did__in=labelled).values("member_id")))


# What a network event's card shows (network/_card.html): nothing else is read.
_CARD_FIELDS = ("uri", "name", "starts_at", "ends_at", "utc_offset_minutes", "place", "mode", "status", "going_count",
                "creator__did", "creator__handle")


def _network_shown() -> QuerySet[NetworkEvent]:
    # Never listed for anyone: blocked by staff, hidden by members' reports until reviewed, or
    # carrying a hiding label (on the record, or on its creator's profile).
    return (NetworkEvent.objects.filter(blocked=False, hidden_label="")
            .exclude(review=NetworkEvent.Review.PENDING)
            .exclude(creator_id__in=_creators(Q(blocked=True) | ~Q(hidden_label=""))))


def upcoming_list(*, member: Member, filters: UpcomingFilters, limit: int = UPCOMING_LIMIT,
                  now: datetime | None = None, hidden_dids: Collection[str] = ()) -> list[UpcomingItem]:
    """Our events and network events that have not ended, soonest first (two queries).

    By default a network event shows only when its creator is one of our members, someone the
    member follows, or someone the member follows answered it (the network is open: spam is a
    given); `follows_only` keeps only creators (and our hosts) the member follows. `hidden_dids`:
    accounts the member blocks or mutes on Bluesky, whose events are left out."""
    now = now or timezone.now()
    ours = Event.objects.filter(event_listed_q(now=now)).exclude(hosts_labelled_hidden_q())
    network = (_network_shown().filter(event_listed_q(now=now))
               .exclude(Exists(Event.objects.filter(at_uri=OuterRef("uri")))))  # ours, read back before saved
    if hidden_dids:
        network = network.exclude(creator_id__in=_creators(Q(did__in=list(hidden_dids))))
        ours = ours.exclude(Q(host__bluesky_identity__did__in=list(hidden_dids))
                            | Q(host__bluesky_app_password__did__in=list(hidden_dids)))
    if filters.when:
        ours = ours.filter(starts_at__lt=now + WHEN[filters.when])
        network = network.filter(starts_at__lt=now + WHEN[filters.when])
    if filters.mode == "online":
        ours = ours.filter(Q(mode__in=[Event.Mode.VIRTUAL, Event.Mode.HYBRID]) | Q(mode="", online_url__gt=""))
        network = network.filter(mode__in=[NetworkEvent.Mode.VIRTUAL, NetworkEvent.Mode.HYBRID])
    elif filters.mode == "inperson":
        ours = ours.filter(Q(mode__in=[Event.Mode.INPERSON, Event.Mode.HYBRID]) | Q(mode="", venue__gt="")
                           | Q(mode="", online_url=""))
        network = network.filter(mode__in=[NetworkEvent.Mode.INPERSON, NetworkEvent.Mode.HYBRID])
    if filters.language:
        ours = ours.filter(language=filters.language)
        # Other apps' event records have no language (community.lexicon.calendar.event has no
        # `langs`): none of them is known to be in the one asked for.
        network = network.none()
    ours = _text_filter(ours, filters.q, title="title")
    network = _text_filter(network, filters.q, title="name")
    if member.is_authenticated:
        follows = FollowedAccount.objects.filter(member=member).values("did")
        network = network.exclude(creator_id__in=HiddenCreator.objects.filter(member=member).values("creator_id"))
        if filters.follows_only:
            network = network.filter(creator_id__in=_creators(Q(did__in=follows)))
            ours = ours.filter(Q(host__bluesky_identity__did__in=follows)
                               | Q(host__bluesky_app_password__did__in=follows))
        else:
            network = network.filter(
                Q(creator_id__in=_creators(Q(did__in=follows) | _member_dids_q()))
                | Q(pk__in=NetworkAnswer.objects.filter(did__in=follows).values("event_id"))
                | Q(pk__in=NetworkRSVP.objects.filter(member=member).values("event_id")))
    else:
        network = network.filter(creator_id__in=_creators(_member_dids_q()))
    ours_rows = list(ours.select_related("host", "community").order_by("starts_at")[:limit])
    network_rows = list(network.select_related("creator").only(*_CARD_FIELDS).order_by("starts_at")[:limit])
    items = merge((UpcomingItem(e.starts_at, "ours", e) for e in ours_rows),
                  (UpcomingItem(e.starts_at, "network", e) for e in network_rows),
                  key=lambda item: item.starts_at)
    return list(items)[:limit]


def follow_sync_get(*, member: Member) -> FollowSync | None:
    if not member.is_authenticated:
        return None
    return FollowSync.objects.filter(member=member).first()


def network_event_get(*, did: str, rkey: str) -> NetworkEvent | None:
    return (NetworkEvent.objects.select_related("creator").filter(uri=f"at://{did}/{EVENT_NSID}/{rkey}")
            .first())


def network_rsvp_for(*, event: NetworkEvent, member: Member) -> NetworkRSVP | None:
    if not member.is_authenticated:
        return None
    return NetworkRSVP.objects.filter(event=event, member=member).first()


def network_member_answers(*, event: NetworkEvent, blocked_dids: Collection[str] = ()) -> dict[str, list[NetworkRSVP]]:
    """Our members' answers, by status; those of accounts the viewer blocks (`blocked_dids`) left out."""
    grouped: dict[str, list[NetworkRSVP]] = {status: [] for status in NetworkRSVP.Status.values}
    rsvps = event.member_rsvps.all()
    if blocked_dids:
        rsvps = rsvps.exclude(Q(member__bluesky_identity__did__in=list(blocked_dids))
                              | Q(member__bluesky_app_password__did__in=list(blocked_dids)))
    for rsvp in rsvps.select_related("member").order_by("updated_at")[:300]:
        grouped[rsvp.status].append(rsvp)
    return grouped


def creator_is_hidden(*, creator_id: int, member: Member) -> bool:
    return bool(member.is_authenticated
                and HiddenCreator.objects.filter(member=member, creator_id=creator_id).exists())


def network_events_for_member_calendar(*, member: Member, since: datetime, limit: int) -> QuerySet[NetworkEvent]:
    attending = NetworkRSVP.objects.filter(member=member, status__in=[RSVP.Status.GOING, RSVP.Status.MAYBE])
    return NetworkEvent.objects.filter(pk__in=attending.values("event_id"), ends_at__gte=since).order_by(
        "starts_at")[:limit]



def network_event_hidden_reason(*, event: NetworkEvent, hidden_dids: dict[str, str] | None = None) -> str:
    """Why this event is not shown to this viewer, in words ("" when it is shown): the same rules as
    "Upcoming" (labels, reports, the viewer's blocks and mutes)."""
    if event.hidden_label:
        label = HIDING_LABELS.get(event.hidden_label) or gettext("labelled to be hidden")
        return gettext("This event is hidden: it is %(label)s.") % {"label": label}
    if event.creator.hidden_label:
        label = HIDING_LABELS.get(event.creator.hidden_label) or gettext("labelled to be hidden")
        return gettext("This event is hidden: its creator's Bluesky account is %(label)s.") % {"label": label}
    if event.review == NetworkEvent.Review.PENDING:
        return gettext("This event is hidden: members reported it, and staff have not reviewed it yet.")
    why = (hidden_dids or {}).get(event.creator.did)
    if why == "block":
        return gettext("This event is hidden: you block its creator on Bluesky.")
    if why == "mute":
        return gettext("This event is hidden: you muted its creator on Bluesky.")
    return ""
