from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.ratelimit import RateLimitedError
from members.models import ApiToken, Member
from members.services import login_attempt_begin, login_attempt_succeeded
from members.signals import password_reset_requested


class _AttemptLimitMixin:
    """Failed password logins are limited per address and per username (members.services). The
    refusal says the same whether the username exists or not."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        counted: list[str] = []
        if self.request is not None:
            try:
                counted = login_attempt_begin(request=self.request, username=username)
            except RateLimitedError as exc:
                raise forms.ValidationError(
                    ngettext("Too many failed sign-in attempts. Please try again in %(minutes)d minute.",
                             "Too many failed sign-in attempts. Please try again in %(minutes)d minutes.",
                             exc.minutes) % {"minutes": exc.minutes},
                    code="rate_limited") from exc
        cleaned = super().clean()  # a wrong password raises here and stays counted
        login_attempt_succeeded(counted=counted)
        return cleaned


def _no_autofocus(form: forms.BaseForm) -> None:
    # "Continue with Bluesky" leads these pages: focusing the password form's first field would
    # skip it (and scroll a phone past it).
    for field in form.fields.values():
        field.widget.attrs.pop("autofocus", None)


class LoginForm(_AttemptLimitMixin, AuthenticationForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _no_autofocus(self)


class AdminLoginForm(_AttemptLimitMixin, AdminAuthenticationForm):
    pass


class SignUpForm(UserCreationForm):
    email = forms.EmailField(label=_("Email"), required=True)
    display_name = forms.CharField(label=_("Display name"), max_length=100, required=False,
                                   help_text=_("How others see you. Optional."))

    class Meta(UserCreationForm.Meta):
        model = Member
        fields = ("username", "email", "display_name")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _no_autofocus(self)


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ("display_name", "email", "bio", "language")
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}
        labels = {"display_name": _("Display name"), "bio": _("Bio")}
        help_texts = {"language": _("For pages and mail. Empty: the language chosen at the foot of the page, "
                                    "or your browser's.")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("As my browser says")), *settings.LANGUAGES]


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100,
                           help_text=_("What will use it, e.g. “calendar script”."))
    permissions = forms.MultipleChoiceField(label=_("Permissions"), choices=ApiToken.Permission.choices,
                                            widget=forms.CheckboxSelectMultiple)


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset form, but the mail is queued for a worker (notifications) instead of sent
    during the request: the answer takes the same time for a known and an unknown address, and
    the reset link is made by the worker, never stored or carried by the broker."""

    def save(self, *args, **kwargs) -> None:
        # Nothing of members' is written by a request: nothing to wait for a commit of.
        for member in self.get_users(self.cleaned_data["email"]):
            password_reset_requested.send(sender=Member, member=member)
