"""Everything Elonara keeps about Bluesky: members' OAuth identities and pending sign-ins, our client
signing keys, the writes-mode switch and its audit trail, the relay account, members' app passwords
and the app-password sessions shared by every web process and worker. Secrets are encrypted."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bluesky.crypto import EncryptedTextField
from core.page_cache import PageRowsQuerySet


class RenewalLease(models.Model):
    """Who is renewing a stored session right now (`bluesky.sessions.refresh_under_lock`), and
    until when: one process renews, the others wait for its result."""

    renew_lease = models.CharField(max_length=32, blank=True)
    renew_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class BlueskyIdentity(RenewalLease):
    """A member's connected Bluesky account and its OAuth session (one per member)."""

    class Status(models.TextChoices):
        CONNECTED = "connected", _("Connected")
        NEEDS_RECONNECTION = "needs_reconnection", _("Needs reconnection")

    member = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bluesky_identity")
    did = models.CharField(max_length=255, unique=True)
    handle = models.CharField(max_length=253)
    pds_url = models.URLField(max_length=500)
    issuer = models.URLField(max_length=500)
    scope = models.TextField()
    # Secrets, encrypted at rest.
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField(blank=True)
    dpop_private_jwk = EncryptedTextField()
    # Server nonces are not secret: the latest one per server origin.
    dpop_nonces = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    client_kid = models.CharField(max_length=100, blank=True)
    # How this session authenticates at the token endpoint ("private_key_jwt" or "none"): a session
    # only works with the client kind that made it.
    auth_method = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONNECTED)
    connected_at = models.DateTimeField()
    refreshed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    # A session that ends, or is renewed, is stored by update(): its member's pages show its state.
    objects = PageRowsQuerySet.as_manager()

    class Meta:
        verbose_name = "Bluesky identity"
        verbose_name_plural = "Bluesky identities"

    def __str__(self) -> str:
        return f"@{self.handle} ({self.did})"


class OAuthAuthorizationRequest(models.Model):
    """A started sign-in, kept server-side until its callback: single use, 10 minutes, and bound to
    the browser session that started it (`browser_hash`), so a callback URL opened anywhere else
    is refused."""

    class Purpose(models.TextChoices):
        CONNECT = "connect", "Connect a member's account"
        SIGN_IN = "signin", "Sign in or sign up with Bluesky"
        # Prove a DID only (scope `atproto`): nothing is stored, the tokens are revoked at once.
        OPT_OUT = "optout", "Prove an account to stop invitations"

    state = models.CharField(max_length=100, primary_key=True)
    # The member who connects; empty for a sign-in (nobody is signed in yet).
    member = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.CONNECT)
    # SHA-256 of a random secret kept in the starting browser's session.
    browser_hash = models.CharField(max_length=64, blank=True)
    # Where to go afterwards (a same-site path, checked when stored).
    next_path = models.CharField(max_length=2000, blank=True)
    issuer = models.URLField(max_length=500)
    # JSON of the pending authorization: PKCE verifier and DPoP key inside, hence encrypted.
    payload = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} at {self.issuer}"


class BlueskySignIn(models.Model):
    """A member who signed up with Bluesky signs in with this DID, even after disconnecting the
    account from posting (their way back in when they have no password)."""

    member = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bluesky_sign_in")
    did = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Bluesky sign-in"

    def __str__(self) -> str:
        return f"{self.did} -> member {self.member_id}"


class ClientSigningKey(models.Model):
    """Our confidential client's ES256 keys. The active one signs new flows; a new key is published
    first and signs only from `signs_from` (after authorization servers' JWKS caches expired);
    retired ones stay in the JWKS while identities bound to them live."""

    kid = models.CharField(max_length=100, unique=True)
    private_key_pem = EncryptedTextField()
    public_jwk = models.JSONField()
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # A key made by a rotation: published at once, used for signing from this time on.
    signs_from = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kid}{' (active)' if self.is_active else ''}"


# --- Posting ------------------------------------------------------------------------------

class WritesMode(models.TextChoices):
    LEGACY = "legacy", "Legacy (app password)"
    OAUTH = "oauth", "OAuth (member's own session)"


class WritesModeSetting(models.Model):
    """The one site-wide writes mode (a single row, pk=1). Absent row = settings.BLUESKY_WRITES_MODE."""

    SINGLETON_PK = 1

    mode = models.CharField(max_length=16, choices=WritesMode.choices, default=WritesMode.LEGACY)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    objects = PageRowsQuerySet.as_manager()

    class Meta:
        verbose_name = "writes mode"
        verbose_name_plural = "writes mode"

    def __str__(self) -> str:
        return f"Writes mode: {self.get_mode_display()}"


class WritesModeChange(models.Model):
    """Audit trail: one row per change of the writes mode. Never edited or deleted from the admin."""

    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept even if the staff account is deleted later.
    changed_by_username = models.CharField(max_length=150, blank=True)
    from_mode = models.CharField(max_length=16, choices=WritesMode.choices)
    to_mode = models.CharField(max_length=16, choices=WritesMode.choices)

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return (
            f"{self.changed_at:%Y-%m-%d %H:%M:%S} {self.changed_by_username or '?'}: {self.from_mode} -> {self.to_mode}"
        )


class RelayAccount(models.Model):
    """The relay account set by staff in the admin (a single row, pk=1). When its identifier is
    empty, BLUESKY_RELAY_IDENTIFIER / BLUESKY_RELAY_APP_PASSWORD from settings are used."""

    SINGLETON_PK = 1

    identifier = models.CharField(max_length=253, blank=True, help_text="Handle or DID of the relay account.")
    app_password = EncryptedTextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    objects = PageRowsQuerySet.as_manager()

    class Meta:
        verbose_name = "relay account"
        verbose_name_plural = "relay account"

    def __str__(self) -> str:
        return self.identifier or "(from settings)"


class MemberAppPassword(models.Model):
    """A member's own app password, used by the legacy agent to post from their account."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bluesky_app_password"
    )
    identifier = models.CharField(max_length=253, help_text="Handle or DID")
    did = models.CharField(max_length=2048, blank=True)
    handle = models.CharField(max_length=253, blank=True)
    app_password = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    objects = PageRowsQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.handle or self.identifier} (app password)"


class AppPasswordSession(RenewalLease):
    """A createSession result reused across tasks and processes.

    One row per posting account (`account_key`), renewed under `bluesky.sessions.refresh_under_lock`
    so two workers never spend two of createSession's 30-per-5-minutes or race on the single-use
    refresh token.
    """

    account_key = models.CharField(max_length=300, unique=True)
    identifier = models.CharField(max_length=253)
    # HMAC of identifier + app password: a changed password invalidates the cached session.
    credential_fingerprint = models.CharField(max_length=64, blank=True)
    did = models.CharField(max_length=2048, blank=True)
    handle = models.CharField(max_length=253, blank=True)
    pds_url = models.CharField(max_length=2048, blank=True)
    access_jwt = EncryptedTextField(blank=True)
    refresh_jwt = EncryptedTextField(blank=True)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    session_created_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    create_count = models.PositiveIntegerField(default=0)
    refresh_count = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.account_key

    @property
    def has_session(self) -> bool:
        return bool(self.access_jwt and self.refresh_jwt and self.did and self.pds_url)


class RecordWrite(models.Model):
    """A record write that is due (or waiting for its time): the one place a write's next attempt
    lives, so no wait ever sits in the broker (see bluesky.pipeline).

    One row per thing to write: an event's record, an RSVP's record (by `object_id`), or the
    deletion of a record (`member`, `collection`, `rkey`). The row goes when the write is done or
    has finally failed (the domain row keeps the state people see)."""

    class Kind(models.TextChoices):
        EVENT = "event", "Event record"
        RSVP = "rsvp", "RSVP record"
        NETWORK_RSVP = "network_rsvp", "RSVP record to a network event"
        DELETE = "delete", "Record deletion"
        ANNOUNCE = "announce", "Event announcement post"
        ANNOUNCE_REPLY = "announce_reply", "Reply in an event's announcement thread"
        MESSAGE_REPLY = "message_reply", "A host's message as a reply in the event's thread"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    object_id = models.BigIntegerField(null=True, blank=True)
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    collection = models.CharField(max_length=100, blank=True)
    rkey = models.CharField(max_length=20, blank=True)
    # When the dispatcher publishes it next (or, while a message is out or a run is on, the end of
    # that lease: a lost message or a killed worker is published again after it).
    due_at = models.DateTimeField(db_index=True)
    # The write-budget slot already reserved for the next attempt (never reserved twice).
    slot_at = models.DateTimeField(null=True, blank=True)
    # The published message's token: a run takes it first, so a redelivered copy does nothing.
    token = models.CharField(max_length=40, blank=True)
    running = models.BooleanField(default=False)
    # Asked again (an edit) bumps it: a run that ends on an older version writes again.
    version = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], condition=~models.Q(kind="delete"),
                                    name="recordwrite_one_per_object"),
            models.UniqueConstraint(fields=["member", "collection", "rkey"], condition=models.Q(kind="delete"),
                                    name="recordwrite_one_delete_per_record"),
        ]
        indexes = [models.Index(fields=["token"], condition=~models.Q(token=""), name="recordwrite_token")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id or self.rkey}"
