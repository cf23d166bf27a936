from django import forms

from network.models import NetworkRSVP


class PasteLinkForm(forms.Form):
    link = forms.CharField(label="Event link", max_length=2048,
                           help_text="An at:// link to an event record, or a Smoke Signal event page.",
                           widget=forms.TextInput(attrs={"placeholder": "at://…/community.lexicon.calendar.event/…",
                                                         "autocomplete": "off", "spellcheck": "false"}))


class NetworkRSVPForm(forms.Form):
    status = forms.ChoiceField(choices=NetworkRSVP.Status.choices)
