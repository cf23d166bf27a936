from django import forms
from django.contrib.auth.forms import UserCreationForm

from members.models import ApiToken, Member


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=True)
    display_name = forms.CharField(max_length=100, required=False, help_text="How others see you. Optional.")

    class Meta(UserCreationForm.Meta):
        model = Member
        fields = ("username", "email", "display_name")


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ("display_name", "email", "bio")
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “calendar script”.")
    permissions = forms.MultipleChoiceField(choices=ApiToken.Permission.choices, widget=forms.CheckboxSelectMultiple)
