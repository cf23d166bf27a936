"""Services for event series: a repeating event whose occurrences are real events.

Occurrences are made ahead for a window (the next SERIES_WINDOW that have not ended), extended by
beat (`series_extend_all`). Editing one occurrence is `services.event_update` (its RECURRENCE-ID
stays); "this and following" splits the series at that occurrence: the old series ends just
before it (UNTIL), a new one carries the change from there. Cancelling or deleting one
occurrence takes its instant out of the series (an EXDATE, `services.event_cancel`/`event_delete`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from elonara import answers, publishing, recurrence, services
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import RSVP, Community, Event, EventCohost, EventSeries, zone_named
from elonara.selectors import event_can_manage
from members.models import Member

SERIES_WINDOW = 8
# What an occurrence copies from its series (and what "this and following" changes in both).
TEMPLATE_FIELDS = ("title", "description", "venue", "online_url", "mode", "country", "locality", "capacity",
                   "capacity_counts_outside", "requires_approval", "community", "guest_list", "language")


def instant_key(instant: datetime) -> str:
    """How an instant is written in EventSeries.excluded."""
    return instant.astimezone(UTC).isoformat()


def _until_from_date(*, until_date: date | None, time_zone: str) -> datetime | None:
    # "Until 30 June" means up to the end of that day on the series' own clock.
    if until_date is None:
        return None
    return datetime.combine(until_date, time(23, 59, 59), tzinfo=zone_named(time_zone)).astimezone(UTC)


def _rule_for(*, kind: str, rule: str, local_start: datetime) -> str:
    try:
        if kind == EventSeries.Kind.CUSTOM:
            return recurrence.rule_clean(rule)
        return recurrence.preset_rule(kind, local_start=local_start)
    except recurrence.RuleError as exc:
        raise InvalidInputError(str(exc), field="repeat_rule") from exc


def series_instants(*, series: EventSeries):
    return recurrence.instants(series.rule, local_start=series.starts_at.astimezone(series.zone), zone=series.zone,
                               until=series.until, count=series.count)


@transaction.atomic
def series_create(
    *, host: Member, kind: str, rule: str = "", until_date: date | None = None, count: int | None = None,
    starts_at: datetime, ends_at: datetime, time_zone: str = "UTC", community: Community | None = None,
    image=None, image_alt: str = "", **fields: Any,
) -> Event:
    """Make a repeating event; returns its first occurrence (the next ones are made at once, up to
    the window). `fields` are event_create's other fields (title, venue, capacity...)."""
    if kind not in EventSeries.Kind.values:
        raise InvalidInputError(gettext("Pick how the event repeats."), field="repeat")
    if until_date is not None and count is not None:
        raise InvalidInputError(gettext("End the series by a date or after a number of times, not both."),
                                field="repeat_count")
    if count is not None and not 1 <= count <= 500:
        raise InvalidInputError(gettext("Between 1 and 500 times."), field="repeat_count")
    if starts_at.tzinfo is None or ends_at <= starts_at:
        raise InvalidInputError(gettext("The event must end after it starts."), field="ends_at")
    zone = zone_named(time_zone)
    value = _rule_for(kind=kind, rule=rule, local_start=starts_at.astimezone(zone))
    until = _until_from_date(until_date=until_date, time_zone=time_zone)
    if until is not None and until < starts_at:
        raise InvalidInputError(gettext("The series must end after its first date."), field="repeat_until")
    first = next(recurrence.instants(value, local_start=starts_at.astimezone(zone), zone=zone, until=until,
                                     count=count), None)
    if first is None:
        raise InvalidInputError(gettext("This rule gives no date: check it and the end."), field="repeat_rule")
    duration = ends_at - starts_at
    # The first occurrence is the rule's first date (a custom rule may not fall on the start chosen).
    event = services.event_create(host=host, starts_at=first, ends_at=first + duration, time_zone=time_zone,
                                  community=community, image=image, image_alt=image_alt, **fields)
    series = EventSeries.objects.create(
        host=host, kind=kind, rule=value, until=until, count=count, starts_at=first, duration=duration,
        time_zone=time_zone, **{name: getattr(event, name) for name in TEMPLATE_FIELDS},
    )
    Event.objects.filter(pk=event.pk).update(series=series, recurrence_id=first)
    event.series, event.recurrence_id = series, first
    series_extend(series=series)
    return event


def _occurrence_create(*, series: EventSeries, instant: datetime, cohosts: list[int]) -> Event:
    event = Event(host_id=series.host_id, starts_at=instant, ends_at=instant + series.duration,
                  time_zone=series.time_zone, series=series, recurrence_id=instant, going_count=1,
                  **{name: getattr(series, name) for name in TEMPLATE_FIELDS})
    event.save()
    # The host holds a seat at each occurrence, as at any event they make (services.event_create).
    answers.answer_take(event=event, member=series.host, status=RSVP.Status.GOING, door=answers.Door.HOST)
    EventCohost.objects.bulk_create([EventCohost(event=event, member_id=pk) for pk in cohosts])
    publishing.event_publish_queue(event=event)
    return event


@transaction.atomic
def series_extend(*, series: EventSeries, now: datetime | None = None) -> int:
    """Make the missing occurrences among the next SERIES_WINDOW; returns how many were made.
    Safe to run any number of times, concurrently too (the series row is locked)."""
    series = EventSeries.objects.select_for_update().get(pk=series.pk)
    now = now or timezone.now()
    existing = set(series.occurrences.values_list("recurrence_id", flat=True))
    excluded = set(series.excluded)
    latest = series.occurrences.order_by("-recurrence_id").first()
    cohosts = list(EventCohost.objects.filter(event=latest).values_list("member_id", flat=True)) if latest else []
    made = upcoming = 0
    for instant in series_instants(series=series):
        if instant + series.duration < now or instant_key(instant) in excluded:
            continue
        upcoming += 1
        if instant not in existing:
            try:
                with transaction.atomic():
                    _occurrence_create(series=series, instant=instant, cohosts=cohosts)
            except IntegrityError:
                pass  # made meanwhile by another run: nothing to do
            else:
                made += 1
        if upcoming >= SERIES_WINDOW:
            break
    return made


def series_extend_all() -> int:
    """Beat: keep every live series' window full."""
    made = 0
    for series in EventSeries.objects.filter(continued_by__isnull=True).exclude(until__lt=timezone.now()):
        made += series_extend(series=series)
    return made


def _wall(moment: datetime, zone) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


@transaction.atomic
def series_update_following(*, event: Event, editor: Member, image=None, remove_image: bool = False,
                            **changes: Any) -> Event:
    """Change this occurrence and every later one: the series is split here.

    A change of time moves each later occurrence by the same wall-clock difference, in the zone,
    so a 19:00 -> 20:00 change is 20:00 on both sides of a daylight-saving change."""
    if not event_can_manage(event=event, member=editor):
        raise NotAllowedError(gettext("Only the host or a co-host can edit this event."))
    if event.series_id is None or event.recurrence_id is None:
        raise InvalidInputError(gettext("This event is not part of a series."))
    old = EventSeries.objects.select_for_update().get(pk=event.series_id)
    pivot = event.recurrence_id
    old_zone = old.zone
    new_zone_name = changes.get("time_zone", event.time_zone)
    new_zone = zone_named(new_zone_name)
    new_start = changes.get("starts_at", event.starts_at)
    new_end = changes.get("ends_at", event.ends_at)
    if new_end <= new_start:
        raise InvalidInputError(gettext("The event must end after it starts."), field="ends_at")
    shift = _wall(new_start, new_zone) - _wall(event.starts_at, old_zone)
    duration = new_end - new_start
    following = list(old.occurrences.filter(recurrence_id__gte=pivot).order_by("recurrence_id"))

    def moved(instant: datetime) -> datetime:
        return (_wall(instant, old_zone) + shift).replace(tzinfo=new_zone).astimezone(UTC)

    remaining = None
    if old.count is not None:
        remaining = max(old.count - sum(1 for i in series_instants(series=old) if i < pivot), 1)
    new_rid = moved(pivot)
    rule = old.rule if old.kind == EventSeries.Kind.CUSTOM else recurrence.preset_rule(
        old.kind, local_start=new_rid.astimezone(new_zone))
    template = {name: getattr(old, name) for name in TEMPLATE_FIELDS}
    # An empty value keeps the series' language (a form left at its default sends none).
    template.update({name: value for name, value in changes.items()
                     if name in TEMPLATE_FIELDS and not (name == "language" and not value)})
    new = EventSeries.objects.create(
        host=old.host, kind=old.kind, rule=rule, until=old.until, count=remaining, starts_at=new_rid,
        duration=duration, time_zone=new_zone_name, **template,
        excluded=[instant_key(moved(datetime.fromisoformat(k))) for k in old.excluded
                  if datetime.fromisoformat(k) >= pivot],
    )
    old.until, old.count, old.continued_by = pivot - timedelta(seconds=1), None, new
    old.sequence += 1
    old.save(update_fields=["until", "count", "continued_by", "sequence", "updated_at"])
    plain = {name: value for name, value in changes.items() if name not in ("starts_at", "ends_at")}
    for occurrence in following:
        start = (_wall(occurrence.starts_at, old_zone) + shift).replace(tzinfo=new_zone)
        extra = {"image": image, "remove_image": remove_image} if occurrence.pk == event.pk else {}
        services.event_update(event=occurrence, editor=editor, starts_at=start, ends_at=start + duration,
                              **plain, **extra)
        recurrence_id = moved(occurrence.recurrence_id) if occurrence.recurrence_id else None
        Event.objects.filter(pk=occurrence.pk).update(series=new, recurrence_id=recurrence_id)
    series_extend(series=new)
    return Event.objects.get(pk=event.pk)
