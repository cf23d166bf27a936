from django.contrib import admin

from elonara.models import RSVP, Community, CommunityMembership, Event


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
    inlines = [MembershipInline]


@admin.register(CommunityMembership)
class CommunityMembershipAdmin(admin.ModelAdmin):
    list_display = ["community", "member", "role", "joined_at"]
    list_filter = ["role"]
    search_fields = ["community__name", "member__username"]
    raw_id_fields = ["community", "member"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["title", "host", "community", "starts_at", "time_zone", "going_count", "maybe_count"]
    list_filter = ["time_zone", "community"]
    search_fields = ["title", "description", "venue"]
    date_hierarchy = "starts_at"
    raw_id_fields = ["host", "community"]


@admin.register(RSVP)
class RSVPAdmin(admin.ModelAdmin):
    list_display = ["event", "member", "status", "updated_at"]
    list_filter = ["status"]
    search_fields = ["event__title", "member__username"]
    raw_id_fields = ["event", "member"]
