"""Which model shows on which kept page: one table, from which every write path's renewal is made.

A kept page (core.page_cache) is served while its versions are unchanged; whatever writes a row it
shows must renew them. Each `Shown` row says, for one model, which page kinds show it: by an id
field of the row itself (`by_field`: the event of an answer), or found by a query from the written
rows' primary keys (`fan_out`: the members who answered an event). From that one row are made:
- the `post_save` receiver (and a save moving the row renews the page it left, `read_before`);
- the `pre_delete` receiver (before the delete, while what it fans out to can still be found:
  a community's events lose it by SET_NULL, an UPDATE sending no signal);
- the `update()` hook (so `bulk_update()`, made of update()s, too) and the `bulk_create()` hook,
  through core.page_cache.PageRowsQuerySet, which every model named here must use.
So save(), update(), delete() and bulk writes cannot drift apart. `tests/pages/test_table.py`
fails for a model related to a shown one that is neither here nor in `NOT_SHOWN` with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models.signals import post_save, pre_delete

from bluesky.models import BlueskyIdentity
from core.page_cache import (
    EVENT_LISTS,
    EVENT_LISTS_ID,
    MEMBER_CALENDAR,
    MEMBER_HOME,
    VIEWER,
    PageRowsQuerySet,
    pages_changed_many,
    row_writes_register,
)
from elonara.models import RSVP, CommunityMembership, Event, EventCohost
from elonara.services import upcoming_events_changed
from invitations.models import BATCH_PROGRESS, POSTING_ACCOUNTS, POSTING_ACCOUNTS_ID, Invitation
from network.models import NetworkRSVP

Changes = dict[str, set[int]]
FanOut = Callable[[list[int]], Mapping[str, Iterable[int | None]]]


@dataclass(frozen=True)
class Shown:
    model: str  # app label and model name: "elonara.Event"
    # Page kind -> the fields of the row naming that page's object.
    by_field: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The written rows' primary keys -> more pages (one query or a few for any number of rows).
    fan_out: FanOut | None = None
    # A write of only these fields renews only those kinds (a login's `last_login`: none).
    only: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = ()
    # Field -> the attribute holding its value as read (a save that moves the row renews both).
    read_before: Mapping[str, str] = field(default_factory=dict)
    # Caches that are not versions, dropped first (the home page's "Upcoming events" fragment).
    also: Callable[[], None] | None = None

    # --- the changes for a write ----------------------------------------------------------------

    def kinds_for(self, written: Iterable[str] | None) -> set[str] | None:
        """The kinds a write of those fields renews (None: all of them)."""
        if written is not None:
            written = set(written)
            for fields, kinds in self.only:
                if written and written <= fields:
                    return set(kinds)
        return None

    def changes(self, rows: Iterable[Mapping[str, Any]], pks: list[int], kinds: set[str] | None) -> Changes:
        changes: Changes = {}
        for kind, fields in self.by_field.items():
            if kinds is None or kind in kinds:
                ids = changes.setdefault(kind, set())
                for row in rows:
                    ids.update(row[name] for name in fields if row.get(name))
        if self.fan_out is not None and pks and (kinds is None or kinds):
            for kind, more in self.fan_out(pks).items():
                if kinds is None or kind in kinds:
                    changes.setdefault(kind, set()).update(pk for pk in more if pk)
        return changes

    def renew(self, changes: Changes, *, kinds: set[str] | None) -> None:
        if self.also is not None and kinds is None:
            self.also()  # first: dropped before the versions renew
        pages_changed_many(changes)

    def _fields(self) -> list[str]:
        return sorted({name for fields in self.by_field.values() for name in fields} - {"pk"})

    def _row_of(self, instance: models.Model) -> dict[str, Any]:
        # From __dict__: a deferred field is not read again for this.
        row = {name: instance.__dict__.get(name) for name in self._fields()}
        row["pk"] = instance.pk
        for attribute in self.read_before.values():
            row[attribute] = getattr(instance, attribute, None)
        return row

    # --- the receivers --------------------------------------------------------------------------

    def saved(self, sender: Any, instance: models.Model, update_fields: Iterable[str] | None = None,
              **kwargs: Any) -> None:
        kinds = self.kinds_for(update_fields)
        if kinds is not None and not kinds:
            return
        row = self._row_of(instance)
        changes = self.changes([row], [instance.pk], kinds)
        for name, attribute in self.read_before.items():
            for kind, fields in self.by_field.items():
                if name in fields and (kinds is None or kind in kinds) and row[attribute]:
                    changes[kind].add(row[attribute])
            setattr(instance, attribute, row[name])  # for this instance's next save
        self.renew(changes, kinds=kinds)

    def deleted(self, sender: Any, instance: models.Model, **kwargs: Any) -> None:
        self.renew(self.changes([self._row_of(instance)], [instance.pk], None), kinds=None)

    # --- the writes without signals (core.page_cache.RowWrites) ---------------------------------

    def updated(self, queryset: models.QuerySet, kwargs: dict[str, Any], update: Callable[..., int]) -> int:
        kinds = self.kinds_for(kwargs)
        if kinds is not None and not kinds:
            return update(**kwargs)
        names = self._fields()
        rows = [dict(zip(["pk", *names], values, strict=True))
                for values in queryset.values_list("pk", *names)]
        updated = update(**kwargs)
        if updated:
            pks = [row["pk"] for row in rows]
            changes = self.changes(rows, pks, kinds)
            for kind, fields in self.by_field.items():
                for name in fields:  # moved to another event or community: that one's page too
                    moved_to = kwargs.get(name, kwargs.get(name.removesuffix("_id")))
                    if name != "pk" and moved_to is not None and (kinds is None or kind in kinds):
                        changes[kind].add(getattr(moved_to, "pk", moved_to))
            self.renew(changes, kinds=kinds)
        return updated

    def created(self, objs: list[models.Model]) -> None:
        self.renew(self.changes([self._row_of(obj) for obj in objs], [obj.pk for obj in objs if obj.pk], None),
                   kinds=None)


# --- fan-outs: one query (or a few) from the written rows' primary keys -------------------------

def _constant(kind: str, pk: int) -> FanOut:
    return lambda pks: {kind: [pk]}


def _event_answerers(pks: list[int]) -> Mapping[str, Iterable[int]]:
    # The API's lists, and the calendar feed and plans of everyone who answered.
    answerers = list(RSVP.objects.filter(event_id__in=pks).values_list("member_id", flat=True))
    return {EVENT_LISTS: [EVENT_LISTS_ID], MEMBER_CALENDAR: answerers, MEMBER_HOME: answerers}


def _community_shown(pks: list[int]) -> Mapping[str, Iterable[int]]:
    # Its name shows on its events and in its members' lists.
    members = list(CommunityMembership.objects.filter(community_id__in=pks).values_list("member_id", flat=True))
    events = Event.objects.filter(community_id__in=pks).values_list("pk", flat=True)
    return {EVENT_LISTS: [EVENT_LISTS_ID], "event": events, VIEWER: members, MEMBER_HOME: members}


def _series_events(pks: list[int]) -> Mapping[str, Iterable[int]]:
    # Its occurrences link to it (and keep existing without it: SET_NULL).
    return {"event": Event.objects.filter(series_id__in=pks).values_list("pk", flat=True)}


def _member_shown(pks: list[int]) -> Mapping[str, Iterable[int]]:
    # Hosts, co-hosts, attendees and community members are shown by name (some with an avatar).
    return {
        "event": [*Event.objects.filter(host_id__in=pks).values_list("pk", flat=True),
                  *EventCohost.objects.filter(member_id__in=pks).values_list("event_id", flat=True),
                  *RSVP.objects.filter(member_id__in=pks).values_list("event_id", flat=True)],
        "community": CommunityMembership.objects.filter(member_id__in=pks).values_list("community_id", flat=True),
    }


def _network_event_answerers(pks: list[int]) -> Mapping[str, Iterable[int]]:
    # Its answerers' calendar feeds and "Your plans" show it; a record deleted, turned invalid or
    # ended is deleted here, and must leave their plans at once.
    answerers = list(NetworkRSVP.objects.filter(event_id__in=pks).values_list("member_id", flat=True))
    return {MEMBER_CALENDAR: answerers, MEMBER_HOME: answerers}


def _invitees(pks: list[int]) -> Mapping[str, Iterable[int]]:
    # The invitee's home lists their invitations (by the DID they were sent to).
    dids = Invitation.objects.filter(pk__in=pks).values("recipient_did")
    return {MEMBER_HOME: BlueskyIdentity.objects.filter(did__in=dids).values_list("member_id", flat=True)}


EVENT, COMMUNITY = "event", "community"
_VIEWER_ROW = {VIEWER: ("member_id",)}

TABLE: tuple[Shown, ...] = (
    Shown("elonara.Event", {EVENT: ("pk",), COMMUNITY: ("community_id",), MEMBER_CALENDAR: ("host_id",),
                            MEMBER_HOME: ("host_id",)},  # the host's plans list it too
          _event_answerers, read_before={"community_id": "community_id_read"}, also=upcoming_events_changed),
    Shown("elonara.Community", {COMMUNITY: ("pk",)}, _community_shown, also=upcoming_events_changed),
    Shown("elonara.EventSeries", {}, _series_events),
    Shown("elonara.RSVP", {EVENT: ("event_id",), MEMBER_CALENDAR: ("member_id",), MEMBER_HOME: ("member_id",)}),
    Shown("elonara.CommunityMembership", {COMMUNITY: ("community_id",), VIEWER: ("member_id",),
                                          MEMBER_HOME: ("member_id",)}),
    Shown("elonara.ExternalRSVP", {EVENT: ("event_id",)}),
    Shown("elonara.EventCohost", {EVENT: ("event_id",)}),
    Shown("elonara.EventConversation", {EVENT: ("event_id",)}),
    Shown("elonara.EventQuestion", {EVENT: ("event_id",)}),  # asked in the answer form
    Shown("elonara.HostMessage", {EVENT: ("event_id",)}),  # "Updates from the host"
    # Counted on the guest's ticket ("checked in"); the door's counts are read per request.
    Shown("elonara.Checkin", {EVENT: ("event_id",)}),
    # A new token or a revoked feed: the token kept for the feed (pages.member_feed) is asked again.
    # Its use recorded (at most hourly) shows on the own profile only ("last read"), not in the feed.
    Shown("elonara.CalendarFeed", {VIEWER: ("member_id",), MEMBER_CALENDAR: ("member_id",)},
          only=((frozenset({"last_used_at"}), (VIEWER,)),)),
    # Their row is kept for their sessions and pages (members.middleware) and names their feed.
    Shown("members.Member", {VIEWER: ("pk",), MEMBER_CALENDAR: ("pk",)}, _member_shown,
          # Saved on every login; the password shows only to its member ("Change password").
          # When their Bluesky profile was last read (bluesky.profiles) shows nowhere either. The
          # language of their last page shows nowhere but is read from their kept row (core.i18n).
          only=((frozenset({"last_login", "bluesky_profile_at"}), ()),
                (frozenset({"last_login", "password", "bluesky_profile_at", "last_language"}), (VIEWER,)))),
    Shown("members.ApiToken", _VIEWER_ROW),
    # Also the DID their invitations are addressed to: their home lists them.
    Shown("bluesky.BlueskyIdentity", {VIEWER: ("member_id",), MEMBER_HOME: ("member_id",)}),
    Shown("bluesky.MemberAppPassword", _VIEWER_ROW),
    Shown("notifications.MailSettings", _VIEWER_ROW),
    Shown("network.NetworkRSVP", {MEMBER_CALENDAR: ("member_id",), MEMBER_HOME: ("member_id",)}),
    Shown("network.NetworkEvent", {}, _network_event_answerers),
    # The batch's progress (page and API); the host's picker says how many they may still send.
    Shown("invitations.InvitationBatch", {BATCH_PROGRESS: ("pk",)}),
    Shown("invitations.Invitation", {BATCH_PROGRESS: ("batch_id",), VIEWER: ("host_id",)}, _invitees,
          # The dispatcher's claims and the landing page's first opening (the figures are read per
          # request): shown on no kept page.
          only=((frozenset({"due_at", "slot_at", "opened_at"}), ()),)),
    # Pickers name the posting account: the writes mode and the relay accounts decide it.
    Shown("bluesky.WritesModeSetting", {}, _constant(POSTING_ACCOUNTS, POSTING_ACCOUNTS_ID)),
    Shown("bluesky.RelayAccount", {}, _constant(POSTING_ACCOUNTS, POSTING_ACCOUNTS_ID)),
)

# Models related to a shown one that show on no kept page, each with its reason.
NOT_SHOWN: Mapping[str, str] = {
    "bluesky.BlueskySignIn": "a pending sign-in's state, read by its callback only",
    "bluesky.OAuthAuthorizationRequest": "a pending OAuth flow's state, read by its callback only",
    "bluesky.RecordWrite": "the write pipeline's queue; what a page shows of it is the row's publish state",
    "bluesky.WritesModeChange": "the writes mode's history, shown in the admin only",
    "elonara.CommunityBlock": "checked when someone joins or answers, never listed on a kept page",
    "feeds.CommunityFeed": "its organizers' page (/feeds/communities/<slug>/) is built per request; the community "
                           "page links to it without showing its state",
    "feeds.FeedRecord": "the feed records published on Bluesky: read by the publishing commands only",
    "invitations.InvitationDecline": "read by the picker's marks (API, not kept) and the sender's checks",
    "members.Member_groups": "Django's permissions, read by the admin only",
    "members.Member_user_permissions": "Django's permissions, read by the admin only",
    "network.Creator": "shown on network event pages and Upcoming, both built per request, not kept",
    "network.FollowSync": "when a member's follows were last copied: a task's bookkeeping",
    "network.FollowedAccount": "read by the network's Upcoming list, built per request, not kept",
    "network.HiddenCreator": "read by the network's Upcoming list, built per request, not kept",
    "network.NetworkAnswer": "counts on network event pages, built per request, not kept",
    "network.NetworkEventReport": "the staff's review queue (admin only); hiding writes the event's own review field",
    "notifications.Mail": "the outbox, read by the mail workers only",
}


def connect() -> None:
    for shown in TABLE:
        model = apps.get_model(shown.model)
        if not issubclass(model._default_manager._queryset_class, PageRowsQuerySet):
            raise TypeError(f"{shown.model}: its manager must use core.page_cache.PageRowsQuerySet")
        post_save.connect(shown.saved, sender=model, weak=False, dispatch_uid=f"pages:saved:{shown.model}")
        pre_delete.connect(shown.deleted, sender=model, weak=False, dispatch_uid=f"pages:deleted:{shown.model}")
        row_writes_register(model._meta.label, shown)
