from django.contrib import admin

from invitations.models import Invitation, InvitationBatch, InvitationDecline


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
