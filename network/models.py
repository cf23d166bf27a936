"""Events from the whole AT Protocol network, kept apart from our own events.

A `NetworkEvent` is a community.lexicon.calendar.event record in someone's repository, written by
any app (Smoke Signal, OpenMeet, ...), read from the firehose or fetched when a member pastes its
link. Only the fields we show are kept, bounded; the record itself stays in its author's repository.
Everything here is untrusted input from the network: shown as plain text, never counted as members.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.page_cache import PageRowsQuerySet
from core.paths import page_path
from elonara.models import PublishedRecord


class Creator(models.Model):
    """The account that made a network event, with its Bluesky profile (App View, cached)."""

    did = models.CharField(max_length=255, unique=True)
    handle = models.CharField(max_length=253, blank=True)
    display_name = models.CharField(max_length=640, blank=True)
    avatar_url = models.URLField(max_length=1000, blank=True)
    # When the profile was last read (None: never). Refreshed by a task when stale.
    profile_checked_at = models.DateTimeField(null=True, blank=True)
    # Staff: none of this creator's events is shown anywhere, and new ones are not kept.
    blocked = models.BooleanField(default=False, help_text="Hide every event of this account, everywhere.")
    # A hiding label on the account's Bluesky profile (network.records.HIDING_LABELS), or "".
    hidden_label = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"@{self.handle}" if self.handle else self.did

    @property
    def name(self) -> str:
        return self.display_name or (f"@{self.handle}" if self.handle else self.did)



class NetworkEvent(models.Model):
    class Review(models.TextChoices):
        NONE = "", "Not reported enough"
        PENDING = "pending", "Hidden until staff review the reports"
        KEPT = "kept", "Reviewed: kept"

    class Mode(models.TextChoices):
        INPERSON = "inperson", _("In person")
        VIRTUAL = "virtual", _("Online")
        HYBRID = "hybrid", _("In person and online")

    creator = models.ForeignKey(Creator, on_delete=models.CASCADE, related_name="events")
    uri = models.CharField("record URI", max_length=400, unique=True)
    rkey = models.CharField(max_length=512)
    cid = models.CharField("record CID", max_length=120)
    name = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    # endsAt is optional in the lexicon: without it the event ends when it starts (has_end False).
    ends_at = models.DateTimeField()
    has_end = models.BooleanField(default=True)
    # The UTC offset the record's startsAt was written with: the event's own wall-clock time.
    utc_offset_minutes = models.SmallIntegerField(default=0)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.INPERSON)
    # The lexicon's status token name (scheduled, planned, cancelled, postponed, rescheduled).
    status = models.CharField(max_length=20, default="scheduled")
    place = models.CharField(max_length=500, blank=True)
    online_url = models.URLField(max_length=1000, blank=True)
    link_url = models.URLField(max_length=1000, blank=True)
    # Firehose sequence number that last changed it (0: fetched from a pasted link).
    seq = models.BigIntegerField(default=0)
    # Grows with every stored change (iCalendar SEQUENCE).
    revision = models.PositiveIntegerField(default=0)
    seen_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Staff: never shown (e.g. spam), and not stored again from the firehose.
    blocked = models.BooleanField(default=False)
    going_count = models.PositiveIntegerField(default=0)
    interested_count = models.PositiveIntegerField(default=0)
    # A hiding self-label on the record (network.records.HIDING_LABELS), or "".
    hidden_label = models.CharField(max_length=40, blank=True)
    review = models.CharField(max_length=10, choices=Review.choices, blank=True, default="",
                              help_text="Members' reports: hidden while waiting for staff, or kept.")

    objects = PageRowsQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at"]), models.Index(fields=["ends_at"])]
        verbose_name = "network event"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        did, _collection, rkey = self.uri.removeprefix("at://").split("/", 2)
        return page_path("network:event", did=did, rkey=rkey)

    # --- what elonara.ical needs (an .ics in UTC: a record has an offset, not a named zone) ---
    time_zone = "UTC"
    venue = property(lambda self: self.place)
    title = property(lambda self: self.name)
    sequence = property(lambda self: self.revision)
    created_at = property(lambda self: self.seen_at)

    @property
    def ical_uid(self) -> str:
        return f"network-{self.uri.removeprefix('at://').replace('/', '-')}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo("UTC")

    @property
    def own_zone(self) -> timezone:
        return timezone(timedelta(minutes=self.utc_offset_minutes))

    @property
    def local_starts_at(self) -> datetime:
        return self.starts_at.astimezone(self.own_zone)

    @property
    def local_ends_at(self) -> datetime:
        return self.ends_at.astimezone(self.own_zone)

    @property
    def offset_label(self) -> str:
        minutes = self.utc_offset_minutes
        if not minutes:
            return "UTC"
        sign = "+" if minutes > 0 else "-"
        return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    @property
    def is_cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def starts_utc(self) -> datetime:
        return self.starts_at.astimezone(UTC)


class NetworkRSVP(PublishedRecord):
    """A member's answer to a network event, written as a community.lexicon.calendar.rsvp record in
    their own repository (strongRef to the event's URI and the CID we showed them)."""

    class Status(models.TextChoices):
        GOING = "going", _("Going")
        MAYBE = "maybe", _("Maybe")
        NOT_GOING = "not_going", _("Not going")

    event = models.ForeignKey(NetworkEvent, on_delete=models.CASCADE, related_name="member_rsvps")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="network_rsvps")
    status = models.CharField(max_length=10, choices=Status.choices)
    # The version of the event record the answer points at (strongRef cid).
    subject_cid = models.CharField(max_length=120, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PageRowsQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "member"], name="unique_network_rsvp")]
        verbose_name = "network RSVP"

    def __str__(self) -> str:
        return f"{self.member} → {self.event}: {self.get_status_display()}"


class NetworkAnswer(models.Model):
    """An answer to a network event written by anyone in any app (read from the firehose).
    Counted on the event's page; our members' answers written here are NetworkRSVPs instead."""

    class Status(models.TextChoices):
        GOING = "going", _("Going")
        INTERESTED = "interested", "Interested"
        NOT_GOING = "not_going", _("Not going")

    event = models.ForeignKey(NetworkEvent, on_delete=models.CASCADE, related_name="answers")
    did = models.CharField(max_length=255, db_index=True)
    uri = models.CharField(max_length=400, unique=True)
    cid = models.CharField(max_length=120)
    status = models.CharField(max_length=12, choices=Status.choices)
    seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "network answer"

    def __str__(self) -> str:
        return f"{self.did} → {self.event}: {self.status}"


class HiddenCreator(models.Model):
    """A member chose not to see this creator's events on "Upcoming"."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    creator = models.ForeignKey(Creator, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "creator"], name="unique_hidden_creator")]

    def __str__(self) -> str:
        return f"{self.member_id} hides {self.creator_id}"


class FollowedAccount(models.Model):
    """One account a member follows on Bluesky (a copy of their graph, refreshed by a task), so
    "Upcoming" filters by it in SQL instead of walking the graph on each request."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    did = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "did"], name="unique_followed_account")]
        indexes = [models.Index(fields=["did"])]

    def __str__(self) -> str:
        return f"{self.member_id} follows {self.did}"


class FollowSync(models.Model):
    """When a member's follows were last copied (and whether that worked)."""

    member = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    synced_at = models.DateTimeField(null=True, blank=True)
    count = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=40, blank=True)

    def __str__(self) -> str:
        return f"follows of {self.member_id} at {self.synced_at}"


class NetworkEventReport(models.Model):
    """A member told staff an event from another app should not be shown here (one per member and
    event). Enough distinct reporters hide it until staff review it."""

    class Reason(models.TextChoices):
        SPAM = "spam", _("Spam or a scam")
        ABUSE = "abuse", _("Harassment or hate")
        ADULT = "adult", _("Adult or graphic content not labelled")
        MISLEADING = "misleading", _("Misleading or fake")
        OTHER = "other", _("Something else")

    event = models.ForeignKey(NetworkEvent, on_delete=models.CASCADE, related_name="reports")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "member"], name="unique_network_event_report")]
        verbose_name = "network event report"

    def __str__(self) -> str:
        return f"{self.member_id} reports {self.event_id}: {self.reason}"


class FirehoseCursor(models.Model):
    """How far the consumer has read a firehose (one row per source URL)."""

    source = models.CharField(max_length=400, unique=True)
    seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    # Set when the source said our cursor was older than its window (frames were missed).
    outdated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        # Moved here from elonara with its rows: the table keeps the name it was made with.
        db_table = "elonara_firehosecursor"

    def __str__(self) -> str:
        return f"{self.source} @ {self.seq}"
