from django.contrib import admin

from elonara.admin import RECORD_FIELDS
from network import services
from network.models import Creator, FirehoseCursor, NetworkAnswer, NetworkEvent, NetworkEventReport, NetworkRSVP


@admin.action(description="Block: hide everywhere and keep no new events of theirs")
def block_creators(modeladmin, request, queryset):
    queryset.update(blocked=True)


@admin.action(description="Unblock")
def unblock(modeladmin, request, queryset):
    queryset.update(blocked=False)


@admin.action(description="Block: hide everywhere")
def block_events(modeladmin, request, queryset):
    queryset.update(blocked=True)


@admin.action(description="Reviewed: keep it shown")
def review_keep(modeladmin, request, queryset):
    services.network_event_review(event_ids=list(queryset.values_list("pk", flat=True)), keep=True)


@admin.action(description="Reviewed: hide it (block)")
def review_hide(modeladmin, request, queryset):
    services.network_event_review(event_ids=list(queryset.values_list("pk", flat=True)), keep=False)


@admin.register(Creator)
class CreatorAdmin(admin.ModelAdmin):
    list_display = ["did", "handle", "display_name", "blocked", "profile_checked_at"]
    list_filter = ["blocked"]
    search_fields = ["did", "handle", "display_name"]
    # The profile comes from the App View; staff decide only whether the account is blocked.
    readonly_fields = ["did", "handle", "display_name", "avatar_url", "hidden_label", "profile_checked_at",
                       "created_at"]
    actions = [block_creators, unblock]


@admin.register(NetworkEvent)
class NetworkEventAdmin(admin.ModelAdmin):
    """Read from the network: staff can block an event (or delete it; a new firehose version
    would bring it back, a block keeps it hidden)."""

    list_display = ["name", "creator", "starts_at", "mode", "status", "going_count", "blocked", "review",
                    "hidden_label", "seen_at"]
    # "Review: hidden until staff review" is the queue of reported events.
    list_filter = ["review", "blocked", "hidden_label", "mode", "status"]
    search_fields = ["name", "uri", "creator__handle", "creator__did"]
    date_hierarchy = "starts_at"
    raw_id_fields = ["creator"]
    readonly_fields = ["uri", "rkey", "cid", "name", "description", "starts_at", "ends_at", "has_end",
                       "utc_offset_minutes", "mode", "status", "place", "online_url", "link_url", "seq", "revision",
                       "seen_at", "updated_at", "going_count", "interested_count", "hidden_label", "review"]
    actions = [review_keep, review_hide, block_events, unblock]


@admin.register(NetworkRSVP)
class NetworkRSVPAdmin(admin.ModelAdmin):
    list_display = ["event", "member", "status", "updated_at", "publish_state"]
    list_filter = ["status", "publish_state"]
    raw_id_fields = ["event", "member"]
    readonly_fields = [*RECORD_FIELDS, "subject_cid"]


@admin.register(NetworkAnswer)
class NetworkAnswerAdmin(admin.ModelAdmin):
    list_display = ["event", "did", "status", "updated_at"]
    list_filter = ["status"]
    search_fields = ["did", "uri"]
    raw_id_fields = ["event"]


@admin.register(NetworkEventReport)
class NetworkEventReportAdmin(admin.ModelAdmin):
    """Members' reports of other apps' events. Decide on the event itself (its review actions)."""

    list_display = ["event", "reason", "member", "created_at"]
    list_filter = ["reason", "event__review"]
    search_fields = ["event__name", "event__uri", "note"]
    raw_id_fields = ["event", "member"]
    readonly_fields = ["event", "member", "reason", "note", "created_at"]


@admin.register(FirehoseCursor)
class FirehoseCursorAdmin(admin.ModelAdmin):
    """Where the consumer is; `outdated_at` set means frames were missed (the relay's window passed)."""

    list_display = ["source", "seq", "updated_at", "outdated_at", "last_error"]
    readonly_fields = ["source", "seq", "updated_at", "outdated_at", "last_error"]

    def has_add_permission(self, request):
        return False
