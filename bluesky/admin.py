from django.contrib import admin

from bluesky.models import BlueskyIdentity, ClientSigningKey, OAuthAuthorizationRequest


@admin.register(BlueskyIdentity)
class BlueskyIdentityAdmin(admin.ModelAdmin):
    # Secrets (tokens, DPoP key) are neither listed nor shown nor editable.
    list_display = ["handle", "did", "member", "status", "issuer", "connected_at", "expires_at"]
    list_filter = ["status"]
    search_fields = ["handle", "did", "member__username"]
    fields = ["member", "did", "handle", "pds_url", "issuer", "scope", "status", "client_kid", "expires_at",
              "connected_at", "refreshed_at", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


@admin.register(OAuthAuthorizationRequest)
class OAuthAuthorizationRequestAdmin(admin.ModelAdmin):
    # The primary key is the OAuth state: no change pages or actions, so it never reaches a URL.
    list_display = ["member", "issuer", "created_at", "expires_at"]
    list_display_links = None
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ClientSigningKey)
class ClientSigningKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "is_active", "created_at", "retired_at"]
    fields = ["kid", "public_jwk", "is_active", "created_at", "retired_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False
