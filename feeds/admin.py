from django.contrib import admin

from feeds.models import CommunityFeed, FeedRecord


@admin.register(CommunityFeed)
class CommunityFeedAdmin(admin.ModelAdmin):
    list_display = ("community", "created_at")
    autocomplete_fields = ("community",)


@admin.register(FeedRecord)
class FeedRecordAdmin(admin.ModelAdmin):
    list_display = ("rkey", "uri", "published_at")
    readonly_fields = ("rkey", "uri", "cid", "published_at")
