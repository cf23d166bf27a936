from django.conf import settings
from django.db import models

from bluesky.crypto import EncryptedTextField


class BlueskyIdentity(models.Model):
    """A member's connected Bluesky account and its OAuth session (one per member)."""

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        NEEDS_RECONNECTION = "needs_reconnection", "Needs reconnection"

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
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONNECTED)
    connected_at = models.DateTimeField()
    refreshed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Bluesky identity"
        verbose_name_plural = "Bluesky identities"

    def __str__(self) -> str:
        return f"@{self.handle} ({self.did})"


class OAuthAuthorizationRequest(models.Model):
    """A started sign-in, kept server-side until its callback: single use, 10 minutes."""

    state = models.CharField(max_length=100, primary_key=True)
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    issuer = models.URLField(max_length=500)
    # JSON of the pending authorization: PKCE verifier and DPoP key inside, hence encrypted.
    payload = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"sign-in for member {self.member_id} at {self.issuer}"


class ClientSigningKey(models.Model):
    """Our confidential client's ES256 keys. The active one signs new flows; retired ones stay in
    the JWKS while identities bound to them live."""

    kid = models.CharField(max_length=100, unique=True)
    private_key_pem = EncryptedTextField()
    public_jwk = models.JSONField()
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kid}{' (active)' if self.is_active else ''}"
