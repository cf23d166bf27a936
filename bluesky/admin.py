"""Staff pages: identities, pending sign-ins and client keys; the writes-mode switch (with
readiness and its audit trail), the relay account, app passwords and cached sessions. No secret is
ever rendered."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.debug import sensitive_post_parameters

from bluesky import selectors, services
from bluesky.models import (
    AppPasswordSession,
    BlueskyIdentity,
    ClientSigningKey,
    MemberAppPassword,
    OAuthAuthorizationRequest,
    RelayAccount,
    WritesModeChange,
    WritesModeSetting,
)


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
    # The primary key is the OAuth state: no change or view pages and no actions, so it never
    # reaches a URL; the payload (PKCE verifier, DPoP key) is never shown, not even to a superuser.
    list_display = ["purpose", "member", "issuer", "created_at", "expires_at"]
    list_display_links = None
    actions = None
    fields = ["purpose", "member", "issuer", "created_at", "expires_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # The list only: a single request's page is never rendered.
        return obj is None and super().has_view_permission(request, obj)


@admin.register(ClientSigningKey)
class ClientSigningKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "is_active", "created_at", "retired_at"]
    fields = ["kid", "public_jwk", "is_active", "created_at", "retired_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


class SingletonAdminMixin:
    """A one-row model edited at /<app>/<model>/1/change/; the list view goes straight there."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _singleton_url(self) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[self.model.SINGLETON_PK])


@admin.register(WritesModeSetting)
class WritesModeSettingAdmin(SingletonAdminMixin, admin.ModelAdmin):
    fields = ["mode", "readiness", "changes"]
    readonly_fields = ["readiness", "changes"]
    change_form_template = "admin/bluesky/writesmodesetting/change_form.html"

    def changelist_view(self, request, extra_context=None):
        services.writes_mode_setting_get_or_create()
        return HttpResponseRedirect(self._singleton_url())

    def get_object(self, request, object_id, from_field=None):
        if str(object_id) == str(WritesModeSetting.SINGLETON_PK):
            services.writes_mode_setting_get_or_create()
        return super().get_object(request, object_id, from_field)

    def get_urls(self):
        custom = [
            path("check-relay/", self.admin_site.admin_view(self.check_relay_view), name="bluesky_check_relay"),
        ]
        return custom + super().get_urls()

    def check_relay_view(self, request: HttpRequest):
        # POST only: the check really creates or refreshes a session (a side effect).
        if request.method == "POST" and self.has_change_permission(request):
            result = services.relay_check()
            messages.add_message(request, messages.SUCCESS if result.ok else messages.ERROR, result.message)
        return HttpResponseRedirect(self._singleton_url())

    def save_model(self, request, obj, form, change):
        # Through the service, so the audit row is written in the same transaction as the change.
        services.writes_mode_set(mode=obj.mode, changed_by=request.user)

    @admin.display(description="Readiness")
    def readiness(self, obj) -> str:
        relay = selectors.relay_status_get()
        if not relay.configured:
            relay_line = "Relay account: not configured (members can still add their own app password)."
        else:
            state = f"session for @{relay.handle} ({relay.did})" if relay.did else "no session yet"
            relay_line = (
                f"Relay account: {relay.identifier} (from {relay.source}); {state}; "
                f"sessions created {relay.create_count}, refreshed {relay.refresh_count}"
            )
            if relay.last_error:
                relay_line += f"; last error: {relay.last_error}"
        apps = MemberAppPassword.objects.count()
        oauth_line = f"OAuth: {selectors.oauth_posting_identity_count()} member(s) connected with permission to post."
        return format_html(
            "<ul><li>Legacy — {}</li><li>Legacy — {} member(s) with their own app password.</li><li>{}</li></ul>",
            relay_line,
            apps,
            oauth_line,
        )

    @admin.display(description="Change history")
    def changes(self, obj) -> str:
        rows = WritesModeChange.objects.all()[:50]
        if not rows:
            return "No change recorded yet."
        return format_html(
            "<table><tr><th>When (UTC)</th><th>Who</th><th>From</th><th>To</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (f"{c.changed_at:%Y-%m-%d %H:%M:%S}", c.changed_by_username or "—", c.from_mode, c.to_mode)
                    for c in rows
                ),
            ),
        )


@admin.register(WritesModeChange)
class WritesModeChangeAdmin(admin.ModelAdmin):
    list_display = ["changed_at", "changed_by_username", "from_mode", "to_mode"]
    list_filter = ["to_mode"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RelayAccountForm(forms.ModelForm):
    # Write-only: the stored password is never sent back to the browser.
    new_app_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored app password.",
    )

    class Meta:
        model = RelayAccount
        fields = ["identifier"]


@admin.register(RelayAccount)
class RelayAccountAdmin(SingletonAdminMixin, admin.ModelAdmin):
    form = RelayAccountForm
    fields = ["identifier", "new_app_password", "password_stored"]
    readonly_fields = ["password_stored"]

    @method_decorator(sensitive_post_parameters("new_app_password"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        RelayAccount.objects.get_or_create(pk=RelayAccount.SINGLETON_PK)
        return HttpResponseRedirect(self._singleton_url())

    @admin.display(description="App password stored", boolean=True)
    def password_stored(self, obj) -> bool:
        return bool(obj and obj.app_password)

    def save_model(self, request, obj, form, change):
        new_password = form.cleaned_data.get("new_app_password") or None
        services.relay_account_set(identifier=obj.identifier, app_password=new_password)


@admin.register(MemberAppPassword)
class MemberAppPasswordAdmin(admin.ModelAdmin):
    list_display = ["member", "identifier", "handle", "did", "created_at"]
    fields = ["member", "identifier", "handle", "did", "created_at"]
    readonly_fields = fields
    search_fields = ["identifier", "handle", "did", "member__username"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AppPasswordSession)
class AppPasswordSessionAdmin(admin.ModelAdmin):
    list_display = ["account_key", "handle", "did", "access_expires_at", "create_count", "refresh_count", "last_error"]
    fields = [
        "account_key",
        "identifier",
        "handle",
        "did",
        "pds_url",
        "access_expires_at",
        "refresh_expires_at",
        "session_created_at",
        "refreshed_at",
        "create_count",
        "refresh_count",
        "last_error",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
