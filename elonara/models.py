import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.db import models
from django.utils.dates import MONTHS_3
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# The pages each model shows on are renewed by the pages app's table (pages.table), for saves,
# deletes, update() and bulk_create() alike: every model it names uses this queryset.
from core.page_cache import PageRowsQuerySet
from core.paths import page_path

TIME_ZONE_CHOICES = sorted((tz, tz.replace("_", " ")) for tz in available_timezones() if "/" in tz or tz == "UTC")
TIME_ZONE_IDS = frozenset(tz for tz, _label in TIME_ZONE_CHOICES)


def zone_named(name: str) -> ZoneInfo:
    """The time zone of that name; UTC for an empty or unknown one (a zone database may drop names)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_label(name: str, at: datetime) -> str:
    """A zone as people say it, with its offset at that instant: "Buenos Aires time (UTC−3)", not
    "America/Argentina/Buenos_Aires" (the last part of the id names the place)."""
    zone = zone_named(name)
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "\u2212"  # a real minus sign, as in print
    hours, rest = divmod(abs(minutes), 60)
    utc = f"UTC{sign}{hours}{f':{rest:02d}' if rest else ''}" if minutes else "UTC"
    if zone.key.startswith("Etc/") or "/" not in zone.key:
        return utc
    return gettext("%(place)s time (%(offset)s)") % {"place": zone.key.rsplit("/", 1)[-1].replace("_", " "),
                                                      "offset": utc}


def cover_upload_to(instance: models.Model, filename: str) -> str:
    # The uploaded name is ignored: covers are re-encoded as JPEG under a random name, so
    # nothing the uploader chose (name, extension, metadata) reaches storage or URLs.
    return f"covers/{instance._meta.model_name}/{uuid.uuid4().hex}.jpg"


class CoverImage(models.Model):
    """An optional cover image, validated and resized by elonara.images before it is stored."""

    image = models.ImageField("cover image", upload_to=cover_upload_to, blank=True, max_length=200)
    image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_alt = models.CharField("image alt text", max_length=300, blank=True)

    class Meta:
        abstract = True


class Community(CoverImage):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="CommunityMembership", related_name="communities"
    )
    objects = PageRowsQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "communities"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return page_path("community-detail", slug=self.slug)


class CommunityMembership(models.Model):
    class Role(models.TextChoices):
        # Organizers (stored as "host"): they create the community's events, edit it, add and
        # remove organizers, and remove (and block) members.
        HOST = "host", _("Organizer")
        MEMBER = "member", _("Member")

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    objects = PageRowsQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["community", "member"], name="unique_community_member")]
        ordering = ["joined_at"]

    def __str__(self) -> str:
        return f"{self.member} in {self.community} ({self.role})"


class CommunityBlock(models.Model):
    """A member an organizer removed from the community: they cannot join it again until unblocked."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="blocks")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    blocked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["community", "member"], name="unique_community_block")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.member} blocked from {self.community}"


class PublishState(models.TextChoices):
    """Where the AT Protocol record of an event or an RSVP stands ("" = not published: no connection)."""

    NONE = "", _("Not published")
    PENDING = "pending", _("Publishing")
    PUBLISHED = "published", _("Published")
    FAILED = "failed", _("Failed")


class PublishedRecord(models.Model):
    """The record in the author's repository that mirrors a row (at://<repo_did>/<collection>/<rkey>).

    `at_rkey` is chosen and saved before the first write, so a retried task overwrites the same
    record instead of creating a second one."""

    at_rkey = models.CharField("record key", max_length=20, blank=True, editable=False)
    at_repo_did = models.CharField("repository DID", max_length=255, blank=True, editable=False)
    at_uri = models.CharField("record URI", max_length=400, blank=True, editable=False, db_index=True)
    at_cid = models.CharField("record CID", max_length=120, blank=True, editable=False)
    publish_state = models.CharField(max_length=10, choices=PublishState.choices, blank=True, default="",
                                     editable=False)
    publish_error = models.CharField(max_length=300, blank=True, editable=False)
    publish_attempts = models.PositiveIntegerField(default=0, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True


class EventSeries(models.Model):
    """A repeating event. Its occurrences are real events (own page, answers, .ics, AT record),
    made ahead for a window by elonara.series; the fields below are what new occurrences copy.

    The rule is an RFC 5545 RRULE value without DTSTART/UNTIL/COUNT, expanded in `time_zone`
    from the local wall-clock time of `starts_at` (elonara.recurrence)."""

    class Kind(models.TextChoices):
        WEEKLY = "weekly", _("Every week")
        BIWEEKLY = "biweekly", _("Every two weeks")
        MONTHLY_NTH = "monthly_nth", _("Every month on the same weekday (e.g. 2nd Tuesday)")
        CUSTOM = "custom", _("Custom rule (RRULE)")

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hosted_series")
    community = models.ForeignKey(Community, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="series")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    rule = models.CharField(max_length=300)
    until = models.DateTimeField(null=True, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True)
    # The first instance; later ones keep its wall-clock time in time_zone.
    starts_at = models.DateTimeField()
    duration = models.DurationField()
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    venue = models.CharField(max_length=255, blank=True)
    online_url = models.URLField(max_length=500, blank=True)
    mode = models.CharField(max_length=10, blank=True)
    country = models.CharField(max_length=2, blank=True)
    locality = models.CharField(max_length=120, blank=True)
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    capacity = models.PositiveIntegerField(null=True, blank=True)
    capacity_counts_outside = models.BooleanField(default=False)
    requires_approval = models.BooleanField(default=False)
    guest_list = models.CharField(max_length=8, default="public")
    # Instances taken out (a cancelled or deleted occurrence), as UTC ISO strings: the EXDATEs.
    excluded = models.JSONField(default=list, blank=True)
    sequence = models.PositiveIntegerField(default=0)
    # Set when the series was split ("this and following"): the later part continues there.
    continued_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    objects = PageRowsQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "event series"

    def __str__(self) -> str:
        return f"{self.title} ({self.get_kind_display()})"

    def get_absolute_url(self) -> str:
        return page_path("series-detail", pk=self.pk)

    @property
    def zone(self) -> ZoneInfo:
        return zone_named(self.time_zone)


class Event(CoverImage, PublishedRecord):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")

    class Mode(models.TextChoices):
        # community.lexicon.calendar.event#mode
        INPERSON = "inperson", _("In person")
        VIRTUAL = "virtual", _("Online")
        HYBRID = "hybrid", _("In person and online")

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hosted_events")
    community = models.ForeignKey(
        Community, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # Times are stored in UTC and shown in the event's own zone.
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    venue = models.CharField("place", max_length=255, blank=True)
    online_url = models.URLField("online link", max_length=500, blank=True)
    # Empty: derived from place and online link (see `attendance_mode`).
    mode = models.CharField("attendance", max_length=10, choices=Mode.choices, blank=True)
    # For the address of the published record (community.lexicon.location.address needs a country).
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 two-letter code")
    locality = models.CharField("town or city", max_length=120, blank=True)
    # The language the event is held in (the host's choice, theirs by default): its announcement
    # post's `langs` and the Upcoming filter. The calendar lexicon has no field for it (so not in
    # the record).
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    # Kept up to date by a Celery task after each RSVP change (see elonara.tasks).
    going_count = models.PositiveIntegerField(default=0)
    maybe_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Seats: None = no limit. Answers beyond it wait in line (RSVP.Status.WAITLISTED) and are
    # promoted in order when a seat frees (elonara.services.rsvp_set / _waitlist_promote).
    capacity = models.PositiveIntegerField("seat limit", null=True, blank=True)
    # Answers from other apps cannot be refused (they live in their authors' repositories); the
    # host chooses whether their "going" takes seats.
    capacity_counts_outside = models.BooleanField("answers from other apps take seats", default=False)
    # "Ask to join": answers wait for the host's or a co-host's approval (RSVP.Status.REQUESTED).
    requires_approval = models.BooleanField("ask to join", default=False)

    class GuestList(models.TextChoices):
        PUBLIC = "public", _("Everyone")
        MEMBERS = "members", _("Signed-in members")
        HIDDEN = "hidden", _("Only the host and co-hosts (others see the count)")

    # Who sees the names and faces of the people going; the counts show to everyone.
    guest_list = models.CharField("who sees the guest list", max_length=8, choices=GuestList.choices,
                                  default=GuestList.PUBLIC)
    cohosts = models.ManyToManyField(settings.AUTH_USER_MODEL, through="EventCohost", related_name="cohosted_events")
    # An occurrence of a series: `recurrence_id` is the start the rule gave it (RFC 5545
    # RECURRENCE-ID), kept when this one occurrence is moved.
    series = models.ForeignKey(EventSeries, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="occurrences")
    recurrence_id = models.DateTimeField(null=True, blank=True)
    # iCalendar SEQUENCE (RFC 5545 3.8.7.4): grows with every change a calendar entry shows, so
    # calendar apps replace their copy instead of keeping a stale one.
    sequence = models.PositiveIntegerField(default=0)
    # The announcement post Elonara writes from the host's own account (elonara.announcements).
    # The host's choice when publishing (None: not asked, e.g. through the API): the next event's
    # box starts from the host's last choice.
    announce_wanted = models.BooleanField(null=True, blank=True, editable=False)
    announce_rkey = models.CharField(max_length=20, blank=True, editable=False)
    announce_uri = models.CharField(max_length=400, blank=True, editable=False)
    announce_cid = models.CharField(max_length=120, blank=True, editable=False)
    announce_state = models.CharField(max_length=10, choices=PublishState.choices, blank=True, default="",
                                      editable=False)
    announce_error = models.CharField(max_length=300, blank=True, editable=False)
    # Fixed at the first attempt, so every retry writes the identical record at the same key.
    announce_created_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The latest reply in the announcement's thread (a time change, a cancellation), written the same way.
    announce_reply_rkey = models.CharField(max_length=20, blank=True, editable=False)
    announce_reply_text = models.CharField(max_length=300, blank=True, editable=False)
    announce_reply_uri = models.CharField(max_length=400, blank=True, editable=False)
    announce_reply_state = models.CharField(max_length=10, choices=PublishState.choices, blank=True, default="",
                                            editable=False)
    announce_reply_created_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PageRowsQuerySet.as_manager()
    community_id_read: int | None = None  # not a field: see from_db

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="event_ends_after_start"
            ),
            models.UniqueConstraint(fields=["series", "recurrence_id"], name="unique_series_occurrence"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return page_path("event-detail", pk=self.pk)

    @classmethod
    def from_db(cls, db, field_names, values):
        event = super().from_db(db, field_names, values)
        # The community it was read with: when a save moves it, that community's page changes too
        # (elonara.signals).
        event.community_id_read = event.__dict__.get("community_id")
        return event

    @property
    def zone(self) -> ZoneInfo:
        """The event's own time zone: times are shown and exported in it."""
        return zone_named(self.time_zone)

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED

    @cached_property
    def card(self) -> dict[str, object]:
        """Everything its card shows (elonara_tags.event_cards), worked out here in one pass. The
        card is rendered for every row of the home, community and upcoming lists, where a
        `{% timezone %}` block, four `date` filters, a `reverse()` and a dozen attribute lookups per
        row (each a failed `[]` before the `getattr`) were most of a cold page's build; the template
        reads this dict only."""
        local = localtime(self.starts_at, self.zone)
        # What the `date` filter's "M", "j" and "c" give, without its formatter (a regular expression
        # and a translation lookup per letter), from the same translated names; the day and time in
        # the language's own short format (config/formats).
        month = MONTHS_3[local.month].title()
        when = date_format(local, "EVENT_SHORT_FORMAT")
        return {"url": self.get_absolute_url(), "title": self.title, "month": month, "day": str(local.day),
                "iso": local.isoformat(), "when": when, "zone": zone_label(self.time_zone, self.starts_at),
                "venue": self.venue, "online": bool(self.online_url), "cancelled": self.is_cancelled,
                "going": self.going_count, "maybe": self.maybe_count,
                "community": self.community.name if self.community else ""}

    @property
    def attendance_mode(self) -> str:
        if self.mode:
            return self.mode
        if self.online_url and self.venue:
            return self.Mode.HYBRID
        return self.Mode.VIRTUAL if self.online_url else self.Mode.INPERSON


class EventCohost(models.Model):
    """A member the host added to share the work: edit, invite from their own account, see and
    export the attendee list. Only the host cancels or deletes."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="cohost_links")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    objects = PageRowsQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "member"], name="unique_event_cohost")]
        ordering = ["added_at", "pk"]
        verbose_name = "co-host"

    def __str__(self) -> str:
        return f"{self.member} co-hosts {self.event}"


class EventConversation(models.Model):
    """The event's announcement post on Bluesky and the replies last read from the App View
    (elonara.conversation): what the event page shows, without calling Bluesky."""

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="conversation")
    post_uri = models.CharField(max_length=400)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    # Only what may be shown (hidden, blocked and muted replies are never stored).
    replies = models.JSONField(default=list, blank=True)
    reply_count = models.PositiveIntegerField(default=0)
    fetched_at = models.DateTimeField(null=True, blank=True)
    # When a refresh was last queued: one per event per refresh period, whatever the page views.
    refresh_requested_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    objects = PageRowsQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Conversation of {self.event}"

    @property
    def web_url(self) -> str:
        did, _, rkey = self.post_uri.removeprefix("at://").partition("/app.bsky.feed.post/")
        return f"https://bsky.app/profile/{did}/post/{rkey}"


class RSVP(PublishedRecord):
    class Status(models.TextChoices):
        GOING = "going", _("Going")
        MAYBE = "maybe", _("Maybe")
        NOT_GOING = "not_going", _("Not going")
        # Not answers a member picks: where a "going" (or, with approval, any answer) waits.
        WAITLISTED = "waitlisted", _("On the waiting list")
        REQUESTED = "requested", _("Requested")
        DECLINED = "declined", _("Declined")

    # What a member may ask for; the other statuses are decided by the event's rules.
    ANSWERS = (Status.GOING, Status.MAYBE, Status.NOT_GOING)

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rsvps")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rsvps")
    status = models.CharField(max_length=10, choices=Status.choices)
    # While requested: the answer asked for (going or maybe), given once approved.
    wanted_status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    # When the member joined the waiting list or asked to join: the order of the line.
    queued_at = models.DateTimeField(null=True, blank=True)
    # Set when a seat freed and the member left the waiting list (their event page says so).
    promoted_at = models.DateTimeField(null=True, blank=True)
    # Set when the host or a co-host approved an "ask to join" answer (later answers need no approval).
    approved_at = models.DateTimeField(null=True, blank=True)
    # What the member's own record (written in another app) asks for when the rules gave something
    # else ("going" on an event that approves requests): their panel says why ours differs.
    network_status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    # The member's answers to the host's questions (EventQuestion), by question id as a string:
    # text for the text kinds, a list of choices, true for a ticked checkbox (elonara.questions).
    question_answers = models.JSONField(default=dict, blank=True)
    # Answered through a door that cannot carry our questions (a record written in another app)
    # while the event asks some: "answered elsewhere: questions not answered" until they answer here.
    questions_missing = models.BooleanField(default=False)

    class CameBy(models.TextChoices):
        """Where the first answer came from (the host's figures). Empty: answered before we kept it."""

        INVITATION = "invitation", _("Bluesky invitation")
        LINK = "link", _("Shared link")
        FEED = "feed", _("Bluesky feed")
        OTHER_APP = "other_app", _("Other apps")
        API = "api", _("API")
        HOST = "host", _("Host")

    came_by = models.CharField(max_length=12, choices=CameBy.choices, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PageRowsQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "member"], name="unique_event_rsvp")]
        indexes = [models.Index(fields=["event", "status", "queued_at"], name="rsvp_event_line")]
        verbose_name = "RSVP"

    def __str__(self) -> str:
        return f"{self.member} → {self.event}: {self.get_status_display()}"


class ExternalRSVP(models.Model):
    """An answer to one of our events written in another app, read from the network's firehose:
    a community.lexicon.calendar.rsvp record whose subject is our event's record. Kept apart from
    members' RSVPs: never counted as members, shown by handle."""

    class Status(models.TextChoices):
        GOING = "going", _("Going")
        INTERESTED = "interested", _("Interested")
        NOT_GOING = "not_going", _("Not going")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="external_rsvps")
    did = models.CharField(max_length=255)
    handle = models.CharField(max_length=253, blank=True)
    handle_checked_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    uri = models.CharField(max_length=400, unique=True)
    cid = models.CharField(max_length=120)
    # The firehose sequence number that last changed it (replays of older frames change nothing).
    seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PageRowsQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        verbose_name = "outside RSVP"
        indexes = [models.Index(fields=["did"])]
        # One answer per account and event (the newest record wins: elonara.outside_answers).
        constraints = [models.UniqueConstraint(fields=["event", "did"], name="unique_outside_rsvp_per_account")]

    def __str__(self) -> str:
        return f"{self.handle or self.did} → {self.event}: {self.get_status_display()}"


class CalendarFeed(models.Model):
    """A member's private calendar feed. Only a SHA-256 of its secret token is stored: the token
    is shown once, to its owner, and a leaked database does not reveal live feed URLs."""

    member = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    # Marked used by update(): its member's profile shows when.
    objects = PageRowsQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Calendar feed of {self.member}"


class EventQuestion(models.Model):
    """A question the host asks everyone who answers Going (or asks to join); at most
    elonara.questions.QUESTIONS_MAX per event."""

    class Kind(models.TextChoices):
        SHORT = "short", _("Short text")
        LONG = "long", _("Long text")
        ONE = "one", _("One choice")
        MANY = "many", _("Several choices")
        CHECKBOX = "checkbox", _("Checkbox")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="questions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    label = models.CharField("question", max_length=300)
    # The choices offered (one and several choices only), in the host's order.
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PageRowsQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.label


class HostMessage(models.Model):
    """A message the host or a co-host wrote to chosen groups of guests: mailed once to each
    (notifications, its own topic) and shown on the event page as "Updates from the host"."""

    # The groups a host may write to (RSVP statuses).
    GROUPS = (RSVP.Status.GOING, RSVP.Status.MAYBE, RSVP.Status.WAITLISTED, RSVP.Status.REQUESTED)

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="host_messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField(max_length=2000)
    groups = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    # Also a reply in the event's Bluesky thread, from the host's own account, when they ticked it
    # (elonara.host_messages): the record key is fixed before the first attempt and createdAt at
    # it, so a retry writes the same post; "" state: not asked.
    reply_state = models.CharField(max_length=10, choices=PublishState.choices, blank=True, default="")
    reply_rkey = models.CharField(max_length=20, blank=True)
    reply_uri = models.CharField(max_length=400, blank=True)
    reply_created_at = models.DateTimeField(null=True, blank=True)
    reply_error = models.CharField(max_length=300, blank=True)

    objects = PageRowsQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"message {self.pk} to {self.event_id}"

    @property
    def reply_web_url(self) -> str:
        """The bsky.app page of the reply in the thread (once written)."""
        did, _, rkey = self.reply_uri.removeprefix("at://").partition("/app.bsky.feed.post/")
        return f"https://bsky.app/profile/{did}/post/{rkey}"


class Checkin(models.Model):
    """A going guest let in at the door, once: the unique RSVP makes a second scan, from any
    phone at the door, find this row instead of writing another (elonara.checkin)."""

    rsvp = models.OneToOneField(RSVP, on_delete=models.CASCADE, related_name="checkin")
    # Kept apart from the RSVP so the count at the door is one indexed query per event.
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="checkins")
    checked_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+")
    checked_in_at = models.DateTimeField()

    objects = PageRowsQuerySet.as_manager()

    class Meta:
        ordering = ["-checked_in_at", "-pk"]
        verbose_name = "check-in"

    def __str__(self) -> str:
        return f"{self.rsvp_id} checked in at {self.checked_in_at:%Y-%m-%d %H:%M}"
