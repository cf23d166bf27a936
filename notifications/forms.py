from django import forms
from django.utils.translation import gettext_lazy as _

from notifications.models import MailSettings


class MailSettingsForm(forms.ModelForm):
    class Meta:
        model = MailSettings
        fields = ("rsvp_confirmations", "event_changes", "reminders", "place_changes", "host_messages")
        labels = {
            "rsvp_confirmations": _("A confirmation with a calendar file when I answer Going or Maybe"),
            "event_changes": _("A notice when an event I answered changes time or place, or is cancelled"),
            "reminders": _("A reminder the day before"),
            "place_changes": _("News about my place: put on the waiting list, a seat freed up, a request approved "
                               "or declined, removed by the host"),
            "host_messages": _("Messages the hosts of events I answered write to their guests"),
        }
