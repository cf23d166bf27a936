from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from invitations import selectors
from invitations.models import Invitation, InvitationBatch, InvitationDecline, InvitationOptOut, InvitationReport


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("recipient_handle", "host", "event", "community", "status", "attempts", "sent_at")
    list_filter = ("status",)
    search_fields = ("recipient_handle", "recipient_did")
    # Status moves only through the services (forward-only): read-only here.
    readonly_fields = [f.name for f in Invitation._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(InvitationBatch)
class InvitationBatchAdmin(admin.ModelAdmin):
    list_display = ("pk", "host", "event", "community", "created_at")


@admin.register(InvitationDecline)
class InvitationDeclineAdmin(admin.ModelAdmin):
    list_display = ("recipient_did", "host", "created_at")


@admin.register(InvitationOptOut)
class InvitationOptOutAdmin(admin.ModelAdmin):
    list_display = ("recipient_did", "created_at")
    search_fields = ("recipient_did",)
    readonly_fields = ("recipient_did", "created_at")

    def has_add_permission(self, request):
        return False


@admin.register(InvitationReport)
class InvitationReportAdmin(admin.ModelAdmin):
    """Read-only dashboard: per day, invitations sent by the relay and by hosts' own accounts, and
    opt-outs; the hosts nearest their daily cap."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Invitations report"),
            "opts": self.model._meta,
            "days": selectors.invitations_report_days(days=14),
            "hosts": selectors.hosts_nearest_cap(limit=20),
        }
        return TemplateResponse(request, "admin/invitations/report.html", context)
