from django import forms
from django.utils.translation import gettext_lazy as _

from network.models import NetworkEventReport, NetworkRSVP


class PasteLinkForm(forms.Form):
    link = forms.CharField(label=_("Event link"), max_length=2048,
                           help_text=_("The address of its page (Smoke Signal, for example) or its at:// link."),
                           widget=forms.TextInput(attrs={"placeholder": _("Paste the event's link"),
                                                         "autocomplete": "off", "spellcheck": "false"}))


class NetworkRSVPForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=NetworkRSVP.Status.choices)


class NetworkReportForm(forms.Form):
    reason = forms.ChoiceField(label=_("Why should staff look at it?"), choices=NetworkEventReport.Reason.choices)
    note = forms.CharField(label=_("Anything staff should know (optional)"), max_length=500, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))


class AnswerLinkForm(forms.Form):
    uri = forms.CharField(label=_("The event's at:// link"), max_length=2048,
                          help_text="at://<account>/community.lexicon.calendar.event/<record key>",
                          widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))

    def clean_uri(self) -> str:
        uri = self.cleaned_data["uri"].strip()
        if not uri.startswith("at://"):
            raise forms.ValidationError(_("This link takes an at:// address of a calendar event."))
        return uri
