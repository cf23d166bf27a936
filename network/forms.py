from django import forms

from network.models import NetworkRSVP


class PasteLinkForm(forms.Form):
    link = forms.CharField(label="Event link", max_length=2048,
                           help_text="The address of its page (Smoke Signal, for example) or its at:// link.",
                           widget=forms.TextInput(attrs={"placeholder": "Paste the event's link",
                                                         "autocomplete": "off", "spellcheck": "false"}))


class NetworkRSVPForm(forms.Form):
    status = forms.ChoiceField(choices=NetworkRSVP.Status.choices)
