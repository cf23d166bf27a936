from zoneinfo import available_timezones

from django.conf import settings
from django.db import models
from django.urls import reverse

TIME_ZONE_CHOICES = sorted((tz, tz.replace("_", " ")) for tz in available_timezones() if "/" in tz or tz == "UTC")


class Community(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="CommunityMembership", related_name="communities"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "communities"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("community-detail", kwargs={"slug": self.slug})


class CommunityMembership(models.Model):
    class Role(models.TextChoices):
        HOST = "host", "Host"
        MEMBER = "member", "Member"

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["community", "member"], name="unique_community_member")]
        ordering = ["joined_at"]

    def __str__(self) -> str:
        return f"{self.member} in {self.community} ({self.role})"


class Event(models.Model):
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
    # Kept up to date by a Celery task after each RSVP change (see elonara.tasks).
    going_count = models.PositiveIntegerField(default=0)
    maybe_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="event_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("event-detail", kwargs={"pk": self.pk})


class RSVP(models.Model):
    class Status(models.TextChoices):
        GOING = "going", "Going"
        MAYBE = "maybe", "Maybe"
        NOT_GOING = "not_going", "Not going"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rsvps")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rsvps")
    status = models.CharField(max_length=10, choices=Status.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "member"], name="unique_event_rsvp")]
        verbose_name = "RSVP"

    def __str__(self) -> str:
        return f"{self.member} → {self.event}: {self.get_status_display()}"
