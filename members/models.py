from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.page_cache import PageRowsQuerySet


class MemberManager(UserManager.from_queryset(PageRowsQuerySet)):  # type: ignore[misc]
    pass


class Face:
    """A person as pages show them, from `username`, `display_name` and `bluesky_display_name`:
    a member, or a row read for a list (elonara.event_page's answers) that is not a model."""

    __slots__ = ()  # the rows are slotted
    username: str
    display_name: str
    bluesky_display_name: str

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def face_name(self) -> str:
        """The name under their face: their Bluesky display name where they have one."""
        return self.bluesky_display_name or self.name

    @property
    def initials(self) -> str:
        """Up to two letters for a face without an avatar."""
        words = [word for word in self.face_name.split() if word[:1].isalnum()]
        return "".join(word[0] for word in words[:2]).upper() or self.username[:1].upper()


class Member(Face, AbstractUser):
    """A person with an Elonara account. Custom from the first migration so it can grow."""

    display_name = models.CharField(max_length=100, blank=True)
    bio = models.TextField(blank=True)
    # From the Bluesky profile at sign-up with Bluesky (an https URL; never fetched by us).
    avatar_url = models.URLField(max_length=2000, blank=True)
    # The language Elonara speaks to them in: pages, mail. Empty: the footer's choice or the
    # browser's (core.i18n).
    language = models.CharField(_("language"), max_length=10, blank=True, choices=settings.LANGUAGES)
    # The language their last page was answered in (core.i18n.LanguageMiddleware writes it when it
    # changes): their mail follows it when they chose none above. English until they visit.
    last_language = models.CharField(max_length=10, default=settings.LANGUAGE_CODE, editable=False)
    # Their face on Bluesky, from the App View's public profile (bluesky.profiles, refreshed daily
    # and on connect): shown on guest lists beside what they set here. Empty without an account.
    bluesky_display_name = models.CharField(max_length=640, blank=True)
    bluesky_avatar_url = models.URLField(max_length=2000, blank=True)
    bluesky_profile_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[MemberManager] = MemberManager()

    def __str__(self) -> str:
        return self.display_name or self.username

    def has_usable_password(self) -> bool:
        # The signed-in member's kept row has no password hash (members.middleware): it keeps
        # whether it was usable, so pages asking ("Change password" or "Set a password") read no
        # row for it.
        if "password" not in self.__dict__ and hasattr(self, "password_was_usable"):
            return self.password_was_usable
        return super().has_usable_password()


class ApiToken(models.Model):
    """A member's personal API token: a long-lived secret (stored as a hash) that obtains
    short-lived signed access tokens with the permissions chosen here. Revocable."""

    class Permission(models.TextChoices):
        READ = "read", _("Read (events, communities, your Bluesky connection)")
        EVENTS = "events", _("Events (RSVP)")
        INVITATIONS = "invitations", _("Invitations (pick, preview, send, follow progress)")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    permissions = models.JSONField(default=list)
    # SHA-256 of the secret: the secret itself is shown once and never stored.
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # Revoked and marked used by update(): its member's profile lists it.
    objects = PageRowsQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.member})"
