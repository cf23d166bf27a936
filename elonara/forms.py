from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from elonara.errors import InvalidInputError
from elonara.images import MIN_HEIGHT, MIN_WIDTH
from elonara.models import RSVP, TIME_ZONE_CHOICES, Community, Event, EventQuestion, EventSeries
from elonara.services import RepeatedTime, repeated_time_question, wall_clock_resolve

# The service (elonara.images) does the real checks on the decoded file; this only guides the picker.
IMAGE_ACCEPT = "image/jpeg,image/png,image/webp"


def _image_field() -> forms.FileField:
    return forms.FileField(
        label=_("Cover image"), required=False, widget=forms.FileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text=format_lazy(_("Optional. JPEG, PNG or WebP, at least {width}×{height} pixels. "
                                "Shown on the page and in link previews."), width=MIN_WIDTH, height=MIN_HEIGHT),
    )


def _image_alt_field() -> forms.CharField:
    return forms.CharField(
        label=_("Image alt text"), max_length=300, required=False,
        help_text=_("What the image shows, for people who cannot see it."),
    )


def _remove_image_field() -> forms.BooleanField:
    return forms.BooleanField(label=_("Remove the current image"), required=False)


@cache  # the zone list is fixed for the process
def zone_choices() -> list:
    """The zones as people look for them: places grouped by region ("Buenos Aires (Argentina)"
    under "America"), not ids; the values stay the zone ids."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for value, _label in TIME_ZONE_CHOICES:
        if value == "UTC":
            continue
        region, _, rest = value.partition("/")
        *within, place = rest.replace("_", " ").split("/")
        groups.setdefault(region, []).append((value, f"{place} ({', '.join(within)})" if within else place))
    return [("UTC", "UTC"),
            *((region, sorted(places, key=lambda choice: choice[1])) for region, places in sorted(groups.items()))]


class CommunityForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    slug = forms.SlugField(
        max_length=140,
        required=False,
        label=_("Address"),
        help_text=_("Letters, numbers and dashes. Leave empty to derive it from the name."),
    )
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 5}),
                                  required=False)
    image = _image_field()
    image_alt = _image_alt_field()


class CommunityEditForm(forms.Form):
    """The address (slug) is not editable: links to the community are already out there."""

    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 5}),
                                  required=False)
    image = _image_field()
    image_alt = _image_alt_field()
    remove_image = _remove_image_field()

    def __init__(self, *args, has_image: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not has_image:
            del self.fields["remove_image"]


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class EventForm(forms.Form):
    """Start and end are typed as wall-clock times in the chosen time zone."""

    title = forms.CharField(label=_("Title"), max_length=200)
    starts_at = forms.DateTimeField(label=_("Starts"), widget=LocalDateTimeInput(), input_formats=["%Y-%m-%dT%H:%M"])
    ends_at = forms.DateTimeField(label=_("Ends"), widget=LocalDateTimeInput(), input_formats=["%Y-%m-%dT%H:%M"])
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=zone_choices, initial="UTC")
    venue = forms.CharField(label=_("Place"), max_length=255, required=False, help_text=_("Address, if in person."))
    online_url = forms.URLField(label=_("Online link"), max_length=500, required=False, assume_scheme="https")
    mode = forms.ChoiceField(label=_("Attendance"), required=False,
                             choices=[("", _("From the place and the link")), *Event.Mode.choices])
    locality = forms.CharField(label=_("Town or city"), max_length=120, required=False)
    country = forms.CharField(label=_("Country code"), max_length=2, required=False,
                              help_text=_("Two letters (PT, FR, US…). With it, Bluesky apps can show the address."))
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 6}),
                                  required=False)
    community = forms.ModelChoiceField(queryset=Community.objects.none(), required=False, label=_("Community"),
                                       empty_label=_("(none)"))
    image = _image_field()
    image_alt = _image_alt_field()
    remove_image = _remove_image_field()
    capacity = forms.IntegerField(label=_("Seat limit"), required=False, min_value=1,
                                  help_text=_("Optional. Beyond it, people join a waiting list and get seats in "
                                              "order."))
    capacity_counts_outside = forms.BooleanField(
        label=_("Answers from other Bluesky apps take seats"), required=False,
        help_text=_("They cannot be refused, so they may fill the seats before members."))
    requires_approval = forms.BooleanField(label=_("Ask to join"), required=False,
                                           help_text=_("You or a co-host approve each answer first."))
    guest_list = forms.ChoiceField(label=_("Who sees the guest list"), choices=Event.GuestList.choices,
                                   initial=Event.GuestList.PUBLIC, required=False,
                                   help_text=_("Names and faces of who answered; everyone sees the counts."))
    language = forms.ChoiceField(label=_("Language of the event"), choices=settings.LANGUAGES, required=False,
                                 help_text=_("Its announcement on Bluesky is marked with it, and Upcoming can be "
                                             "filtered by it."))

    # A new event only: make it a series.
    repeat = forms.ChoiceField(label=_("Repeats"), required=False,
                               choices=[("", _("Does not repeat")), *EventSeries.Kind.choices])
    repeat_rule = forms.CharField(label=_("Custom rule"), max_length=300, required=False,
                                  help_text=_("An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=TU,TH or "
                                              "FREQ=MONTHLY;BYDAY=-1FR (the last Friday)."))
    repeat_until = forms.DateField(label=_("Repeats until"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    repeat_count = forms.IntegerField(label=_("…or this many times"), required=False, min_value=1, max_value=500)
    # Publishing: Elonara writes the announcement post from the host's own account (elonara.announcements).
    announce = forms.BooleanField(
        label=_("Announce it on Bluesky"), required=False,
        help_text=_("A post from your Bluesky account with the event's card; its replies show on the event page."))
    # Editing the host's own announced event: the new time as a reply in the announcement's thread.
    announce_reply = forms.BooleanField(
        label=_("Post the new time as a reply to the announcement on Bluesky"), required=False,
        help_text=_("Only when the start or end changes."))
    # Editing an occurrence of a series.
    scope = forms.ChoiceField(label=_("Change"), required=False, initial="this", widget=forms.RadioSelect,
                              choices=[("this", _("This event only")),
                                       ("following", _("This and the following events"))])

    REPEAT_FIELDS = ("repeat", "repeat_rule", "repeat_until", "repeat_count")
    # Shown folded under "More options" (templates/elonara/event_form.html) unless one is set or wrong.
    ADVANCED_FIELDS = ("mode", "locality", "country", "capacity", "capacity_counts_outside", "requires_approval",
                       "guest_list", "language", *REPEAT_FIELDS)

    def clean_guest_list(self) -> str:
        return self.cleaned_data.get("guest_list") or Event.GuestList.PUBLIC

    @property
    def advanced_open(self) -> bool:
        for name in self.ADVANCED_FIELDS:
            if name not in self.fields:
                continue
            bound = self[name]
            if name == "language" and not bound.errors and bound.value() in (bound.initial, "", None):
                continue  # the host's own language (or the event's) is not an option they set
            if bound.errors or bound.value() not in (None, "", False, [], "none", "public"):
                return True
        return False

    def __init__(self, *args, communities=None, has_image: bool = False, repeating: bool = True,
                 occurrence: bool = False, announce_reason: str | None = None, announce_reply: bool = False,
                 **kwargs):
        """`announce_reason`: None hides the announcement box (editing); "" offers it; any other
        text is why it cannot be ticked (shown under it, the box disabled). `announce_reply`:
        offer the reply box (the host editing an event with an announcement post)."""
        super().__init__(*args, **kwargs)
        if announce_reason is None:
            del self.fields["announce"]
        elif announce_reason:
            self.fields["announce"].disabled = True
            self.fields["announce"].initial = False
            self.fields["announce"].help_text = announce_reason
        if not announce_reply:
            del self.fields["announce_reply"]
        if communities is not None:
            self.fields["community"].queryset = communities
        if not has_image:
            del self.fields["remove_image"]
        if not repeating:
            for name in self.REPEAT_FIELDS:
                del self.fields[name]
        if not occurrence:
            del self.fields["scope"]
        if self.is_bound:
            self._ask_repeated_times()

    def _ask_repeated_times(self) -> None:
        # A time in the hour that happens twice (clocks going back) gets a question: which one.
        zone_name = self.data.get("time_zone") or ""
        for name in ("starts_at", "ends_at"):
            try:
                ZoneInfo(zone_name)
                value = datetime.strptime(self.data.get(name) or "", "%Y-%m-%dT%H:%M")
                resolved = wall_clock_resolve(value=value, zone_name=zone_name, field=name)
            except (ValueError, ZoneInfoNotFoundError, InvalidInputError):
                continue  # reported by the fields' own checks and clean()
            if isinstance(resolved, RepeatedTime):
                # Right under its time, and not marked wrong before it is answered (clean() keeps
                # the form from saving until it is).
                which = forms.ChoiceField(
                    label=repeated_time_question(repeated=resolved, zone_name=zone_name), required=False,
                    choices=[("", gettext("Choose…")),
                             ("0", gettext("The first, %(time)s") % {"time": f"{resolved.earlier:%H:%M %Z}"}),
                             ("1", gettext("The second, %(time)s") % {"time": f"{resolved.later:%H:%M %Z}"})])
                fields = list(self.fields.items())
                at = next(i for i, (field_name, _f) in enumerate(fields) if field_name == name) + 1
                fields.insert(at, (f"{name}_which", which))
                self.fields = dict(fields)

    def clean(self):
        data = super().clean()
        zone_name = data.get("time_zone")
        if zone_name:
            # The browser sends wall-clock time; interpret it in the event's zone, not the server's.
            for name in ("starts_at", "ends_at"):
                value = data.get(name)
                if value is None:
                    continue
                which = data.pop(f"{name}_which", None)
                try:
                    resolved = wall_clock_resolve(value=value, zone_name=zone_name, field=name,
                                                  fold=int(which) if which in ("0", "1") else None)
                except InvalidInputError as exc:
                    self.add_error(name, exc.message)
                    data.pop(name, None)
                    continue
                if isinstance(resolved, RepeatedTime):
                    if f"{name}_which" in self.fields:  # asked just below the field: not an error yet
                        self.add_error(None, gettext("Choose which of the two times you mean, under the time."))
                    else:
                        self.add_error(name, repeated_time_question(repeated=resolved, zone_name=zone_name))
                    data.pop(name, None)
                    continue
                data[name] = resolved
        return data


class RSVPForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=[("going", _("Going")), ("maybe", _("Maybe")),
                                                               ("not_going", _("Not going"))])


class CohostForm(forms.Form):
    username = forms.CharField(label=_("Member's username"), max_length=150)


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of answer"), choices=EventQuestion.Kind.choices)
    label = forms.CharField(label=_("Question"), max_length=300)
    choices = forms.CharField(label=_("Choices (one and several choices only)"), required=False,
                              widget=forms.Textarea(attrs={"rows": 4}), help_text=_("One a line."))
    required = forms.BooleanField(label=_("Required"), required=False)


class HostMessageForm(forms.Form):
    groups = forms.MultipleChoiceField(
        label=_("Send to"), widget=forms.CheckboxSelectMultiple, initial=[RSVP.Status.GOING],
        choices=[(RSVP.Status.GOING, _("Going")), (RSVP.Status.MAYBE, _("Maybe")),
                 (RSVP.Status.WAITLISTED, _("On the waiting list")), (RSVP.Status.REQUESTED, _("Asking to join"))])
    body = forms.CharField(label=_("Message"), max_length=2000, widget=forms.Textarea(attrs={"rows": 6}),
                           help_text=_("Sent by mail to the people you choose (those who turned these messages "
                                       "off are left out) and shown on the event page under “Updates from the "
                                       "host”."))
    also_reply = forms.BooleanField(
        label=_("Also post it as a reply in the event's Bluesky thread"), required=False,
        help_text=_("Posted from your own Bluesky account under the event's post, where anyone can read it."))

    def __init__(self, *args, reply_offered: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not reply_offered:  # no thread, not the host, or no account of their own to post from
            del self.fields["also_reply"]
