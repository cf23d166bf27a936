from django.contrib import admin

from elonara.models import (
    RSVP,
    CalendarFeed,
    Checkin,
    Community,
    CommunityMembership,
    Event,
    EventQuestion,
    ExternalRSVP,
    HostMessage,
)

RECORD_FIELDS = ["publish_state", "publish_error", "publish_attempts", "published_at", "at_uri", "at_cid", "at_rkey",
                 "at_repo_did"]


class MembershipInline(admin.TabularInline):
    model = CommunityMembership
    extra = 0
    raw_id_fields = ["member"]


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_by", "created_at"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["created_by"]
    # Covers are uploaded through the site, which validates and re-encodes them (elonara.images).
    readonly_fields = ["image", "image_width", "image_height"]
    inlines = [MembershipInline]


@admin.register(CommunityMembership)
class CommunityMembershipAdmin(admin.ModelAdmin):
    list_display = ["community", "member", "role", "joined_at"]
    list_filter = ["role"]
    search_fields = ["community__name", "member__username"]
    raw_id_fields = ["community", "member"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["title", "host", "community", "starts_at", "time_zone", "status", "going_count", "maybe_count",
                    "publish_state"]
    list_filter = ["status", "publish_state", "time_zone", "community"]
    # Covers are uploaded through the site, which validates and re-encodes them (elonara.images).
    # The record fields are written only by the publishing tasks.
    readonly_fields = ["sequence", "cancelled_at", "image", "image_width", "image_height", *RECORD_FIELDS]
    search_fields = ["title", "description", "venue"]
    date_hierarchy = "starts_at"
    raw_id_fields = ["host", "community"]


@admin.register(RSVP)
class RSVPAdmin(admin.ModelAdmin):
    list_display = ["event", "member", "status", "updated_at", "publish_state"]
    list_filter = ["status", "publish_state"]
    search_fields = ["event__title", "member__username"]
    raw_id_fields = ["event", "member"]
    readonly_fields = RECORD_FIELDS


@admin.register(ExternalRSVP)
class ExternalRSVPAdmin(admin.ModelAdmin):
    """Answers read from the network; the consumer owns them (delete only, e.g. abuse)."""

    list_display = ["event", "handle", "did", "status", "updated_at"]
    list_filter = ["status"]
    search_fields = ["handle", "did", "event__title"]
    readonly_fields = ["event", "did", "handle", "handle_checked_at", "status", "uri", "cid", "seq", "created_at",
                       "updated_at"]

    def has_add_permission(self, request):
        return False


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Admins can see that a feed exists and delete it (revoke); the token hash is never shown."""

    list_display = ["member", "created_at", "last_used_at"]
    search_fields = ["member__username"]
    fields = ["member", "created_at", "last_used_at"]
    readonly_fields = ["member", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False


class _RecordOfWhatHappened(admin.ModelAdmin):
    """Rows that record what hosts and guests did (through the site's services, which check them):
    staff read them and may delete one (abuse, a mistake); they never write or change one here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EventQuestion)
class EventQuestionAdmin(_RecordOfWhatHappened):
    """The host's questions: changed on the event's questions page only (elonara.questions checks
    the kinds, choices and the limit of ten); guests' answers live on their RSVP."""

    list_display = ["label", "event", "kind", "required", "position", "created_at"]
    list_filter = ["kind", "required"]
    search_fields = ["label", "event__title"]
    fields = ["event", "kind", "label", "choices", "required", "position", "created_at"]


@admin.register(HostMessage)
class HostMessageAdmin(_RecordOfWhatHappened):
    """A message mailed to guests (and perhaps posted in the event's thread): what was sent."""

    list_display = ["event", "author", "excerpt", "created_at", "reply_state"]
    list_filter = ["reply_state"]
    search_fields = ["event__title", "author__username", "body"]
    fields = ["event", "author", "groups", "body", "created_at", "reply_state", "reply_uri", "reply_error"]

    @admin.display(description="message")
    def excerpt(self, obj: HostMessage) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"


@admin.register(Checkin)
class CheckinAdmin(_RecordOfWhatHappened):
    """Who was let in at the door, when and by whom. The ticket's code is never shown: it is a
    signature (elonara.tickets) that lets its holder in."""

    list_display = ["event", "guest", "checked_in_at", "checked_in_by"]
    search_fields = ["event__title", "rsvp__member__username"]
    fields = ["event", "guest", "checked_in_at", "checked_in_by"]
    list_select_related = ["event", "rsvp__member", "checked_in_by"]

    @admin.display(description="guest")
    def guest(self, obj: Checkin) -> str:
        return obj.rsvp.member.username
