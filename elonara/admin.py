from django.contrib import admin

from elonara.models import RSVP, CalendarFeed, Community, CommunityMembership, Event, ExternalRSVP

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
