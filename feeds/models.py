"""Which communities want a feed of their own in the Bluesky app, and which feed records are out."""

from __future__ import annotations

from django.db import models

from elonara.models import Community


class CommunityFeed(models.Model):
    """The community wants its upcoming events as a Bluesky feed (the setting lives here rather than
    on Community: only the feeds app reads it). Published by `manage.py feeds_publish`."""

    community = models.OneToOneField(Community, on_delete=models.CASCADE, related_name="bluesky_feed")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "community feed"

    def __str__(self) -> str:
        return f"Feed of {self.community}"


class FeedRecord(models.Model):
    """An `app.bsky.feed.generator` record we wrote (in the operator's account): what
    `feeds_withdraw` deletes, and what the admin shows."""

    rkey = models.CharField(max_length=100, unique=True)
    uri = models.CharField("record URI", max_length=400)
    cid = models.CharField("record CID", max_length=120, blank=True)
    published_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["rkey"]

    def __str__(self) -> str:
        return self.uri
