from django import forms
from django.utils.translation import gettext_lazy as _


class AppPasswordForm(forms.Form):
    identifier = forms.CharField(
        label=_("Bluesky handle or DID"), max_length=253, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    # Never re-rendered: a failed submission shows an empty password box.
    app_password = forms.CharField(
        label=_("App password"),
        max_length=128,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Create one in Bluesky under Settings → Privacy and security → App passwords."),
    )
