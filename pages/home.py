"""The member's home page lists, across the apps: plans here and in other apps' events,
communities, Bluesky invitations. Its own module: it reads every app's selectors, and none of
them may read back (no import cycle).

Rendered and cached per member (core.page_cache.MEMBER_HOME, MEMBER_HOME_CACHE_SECONDS): the side
holds links only, no form, so its HTML is the same in every session of the member.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from core.page_cache import MEMBER_HOME, page_part_get
from core.paths import page_path
from core.sql import STAND_IN_ID, STAND_IN_TIME, FixedQuery
from elonara.models import RSVP, Community, Event
from elonara.selectors import MEMBER_HOME_CACHE_SECONDS, event_listed_q
from invitations.selectors import invitation_list_for_home
from members.models import Member
from network.models import NetworkRSVP


def member_home_side(*, member: Member) -> SafeString:
    """The HTML of the member's side of the home page: their plans, communities and Bluesky
    invitations. Three or four narrow queries and a render, or none when it is in the cache."""
    def build() -> tuple[SafeString, int]:
        lists = member_home_lists(member=member)
        return render_to_string("elonara/_home_side.html", {
            "my_rsvps": lists["plans"], "my_communities": lists["communities"], "my_invitations": lists["invitations"],
        }), MEMBER_HOME_CACHE_SECONDS

    return page_part_get(MEMBER_HOME, member.pk, build) or SafeString()


# The lists' queries, compiled once (core.sql): a home built cold pays for its rows, not for SQL.
# Events they host ("Hosting": their own going answer is not listed again) and events they
# answered, in one query: the answer's status read for the rows found only; and on each row,
# whether they answered any event of another app at all (most never did: that query is then not
# made).
_PLANS = FixedQuery(lambda member_id, now: (
    Event.objects.filter(event_listed_q(now=now))
    .filter(Q(host_id=member_id) | Q(pk__in=RSVP.objects.filter(member_id=member_id).values("event_id")))
    .annotate(answer=Subquery(RSVP.objects.filter(event=OuterRef("pk"), member_id=member_id).values("status")[:1]),
              elsewhere=Exists(NetworkRSVP.objects.filter(member_id=member_id)))
    .order_by("starts_at")
    .values_list("pk", "title", "starts_at", "status", "host_id", "answer", "elsewhere")),
    member_id=STAND_IN_ID, now=STAND_IN_TIME)
_COMMUNITIES = FixedQuery(lambda member_id: (
    Community.objects.filter(memberships__member_id=member_id).order_by("name").values_list("slug", "name")),
    member_id=STAND_IN_ID)
_NETWORK_PLANS = FixedQuery(lambda member_id, now: (
    NetworkRSVP.objects.filter(event_listed_q(now=now, via="event__"), member_id=member_id)
    .order_by("event__starts_at")
    .values_list("event__uri", "event__name", "status", "event__starts_at", "event__status")),
    member_id=STAND_IN_ID, now=STAND_IN_TIME)


def member_home_lists(*, member: Member) -> dict[str, list[dict[str, str | bool]]]:
    """{"plans": [{url, title, status, other_app, hosting}], "communities": [{url, name}],
    "invitations": [{url, title, host, status, token}]}: three narrow queries (events they host or
    answered, communities, invitations), and plans in other apps' events when they have any."""
    status_label = {value: str(label) for value, label in RSVP.Status.choices}
    now = timezone.now()
    ours = _PLANS.all(member_id=member.pk, now=now)
    communities = _COMMUNITIES.all(member_id=member.pk)
    hosting = gettext("Hosting")
    # Sorted by start; at the same start, what they host, then their answers, then other apps'.
    rows = [((starts, 0 if host_id == member.pk else 1), page_path("event-detail", pk), title,
             hosting if host_id == member.pk else status_label[status], False, state == "cancelled",
             host_id == member.pk)
            for pk, title, starts, state, host_id, status, _elsewhere in ours]
    if not ours or ours[0][-1]:
        # Answers to events of other apps (network.models) are plans too.
        for uri, name, status, starts, state in _NETWORK_PLANS.all(member_id=member.pk, now=now):
            did, _collection, rkey = uri.removeprefix("at://").split("/", 2)
            rows.append(((starts, 2), page_path("network:event", did, rkey), name, status_label[status], True,
                         state == "cancelled", False))
    rows.sort(key=lambda row: row[0])
    return {
        "plans": [{"url": url, "title": title, "status": status, "other_app": other, "cancelled": cancelled,
                   "hosting": hosted}
                  for _starts, url, title, status, other, cancelled, hosted in rows],
        "communities": [{"url": page_path("community-detail", slug), "name": name}
                        for slug, name in communities],
        "invitations": invitation_list_for_home(member=member),
    }

