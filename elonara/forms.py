from zoneinfo import ZoneInfo

from django import forms

from elonara.models import TIME_ZONE_CHOICES, Community


class CommunityForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(
        max_length=140,
        required=False,
        label="Address",
        help_text="Letters, numbers and dashes. Leave empty to derive it from the name.",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class EventForm(forms.Form):
    """Start and end are typed as wall-clock times in the chosen time zone."""

    title = forms.CharField(max_length=200)
    starts_at = forms.DateTimeField(label="Starts", widget=LocalDateTimeInput(), input_formats=["%Y-%m-%dT%H:%M"])
    ends_at = forms.DateTimeField(label="Ends", widget=LocalDateTimeInput(), input_formats=["%Y-%m-%dT%H:%M"])
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, initial="UTC")
    venue = forms.CharField(label="Place", max_length=255, required=False, help_text="Address, if in person.")
    online_url = forms.URLField(label="Online link", max_length=500, required=False, assume_scheme="https")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    community = forms.ModelChoiceField(queryset=Community.objects.none(), required=False, empty_label="(none)")

    def __init__(self, *args, communities=None, **kwargs):
        super().__init__(*args, **kwargs)
        if communities is not None:
            self.fields["community"].queryset = communities

    def clean(self):
        data = super().clean()
        zone_name = data.get("time_zone")
        if zone_name:
            zone = ZoneInfo(zone_name)
            # The browser sends wall-clock time; interpret it in the event's zone, not the server's.
            for name in ("starts_at", "ends_at"):
                value = data.get(name)
                if value is not None:
                    data[name] = value.replace(tzinfo=None).replace(tzinfo=zone)
        return data


class RSVPForm(forms.Form):
    status = forms.ChoiceField(choices=[("going", "Going"), ("maybe", "Maybe"), ("not_going", "Not going")])
