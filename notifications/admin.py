from django.contrib import admin

from notifications.models import Mail, MailSettings


@admin.register(Mail)
class MailAdmin(admin.ModelAdmin):
    list_display = ("kind", "member", "event", "status", "due_at", "sent_at", "attempts")
    list_filter = ("kind", "status")
    raw_id_fields = ("member", "event")
    # No field of a Mail is secret (reset links are made at sending time and never stored).
    readonly_fields = ("key", "kind", "member", "event", "claim", "details", "to_address", "created_at", "sent_at")


@admin.register(MailSettings)
class MailSettingsAdmin(admin.ModelAdmin):
    list_display = ("member", "confirmed_email", "refused_email", "rsvp_confirmations", "event_changes", "reminders",
                    "place_changes")
    raw_id_fields = ("member",)
