from django import forms

from notifications.models import MailSettings


class MailSettingsForm(forms.ModelForm):
    class Meta:
        model = MailSettings
        fields = ("rsvp_confirmations", "event_changes", "reminders", "place_changes", "host_messages")
        labels = {
            "rsvp_confirmations": "A confirmation with a calendar file when I answer Going or Maybe",
            "event_changes": "A notice when an event I answered changes time or place, or is cancelled",
            "reminders": "A reminder the day before",
            "place_changes": "News about my place: put on the waiting list, a seat freed up, a request approved "
                             "or declined, removed by the host",
            "host_messages": "Messages the hosts of events I answered write to their guests",
        }
