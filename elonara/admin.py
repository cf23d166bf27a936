from django.contrib import admin

from elonara.models import RSVP, CalendarFeed, Community, CommunityMembership, Event


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
    list_display = ["title", "host", "community", "starts_at", "time_zone", "status", "going_count", "maybe_count"]
    list_filter = ["status", "time_zone", "community"]
    # Covers are uploaded through the site, which validates and re-encodes them (elonara.images).
    readonly_fields = ["sequence", "cancelled_at", "image", "image_width", "image_height"]
    search_fields = ["title", "description", "venue"]
    date_hierarchy = "starts_at"
    raw_id_fields = ["host", "community"]


@admin.register(RSVP)
class RSVPAdmin(admin.ModelAdmin):
    list_display = ["event", "member", "status", "updated_at"]
    list_filter = ["status"]
    search_fields = ["event__title", "member__username"]
    raw_id_fields = ["event", "member"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Admins can see that a feed exists and delete it (revoke); the token hash is never shown."""

    list_display = ["member", "created_at", "last_used_at"]
    search_fields = ["member__username"]
    fields = ["member", "created_at", "last_used_at"]
    readonly_fields = ["member", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False
