"""{% calendar_feed_card %}: the logged-in member's private calendar feed, for their profile;
`{{ event|zone_label }}`: the event's zone as people say it ("Berlin time (UTC+1)");
`{{ event|event_when }}`: its time in words with the zone, in the active language;
`{% face member %}`: a person's face and name."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from elonara import selectors
from elonara.models import zone_label as _zone_label
from elonara.when import event_when as _event_when

register = template.Library()


@register.inclusion_tag("elonara/_calendar_feed_card.html", takes_context=True)
def calendar_feed_card(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    feed = selectors.calendar_feed_for_member(member=user) if user is not None else None
    return {"feed": feed, "feed_url": "", "webcal_url": ""}  # the csrf token is passed on by Django


@register.filter
def zone_label(event) -> str:
    """Events and series (anything with `time_zone` and `starts_at`): the offset at its start."""
    return _zone_label(event.time_zone, event.starts_at)


@register.filter
def event_when(event, style: str = "") -> str:
    """`{{ event|event_when }}`: its span in its own zone with the zone named, in the active
    language (elonara.when); `{{ event|event_when:"short" }}` for cards and lists."""
    return _event_when(starts_at=event.starts_at, ends_at=event.ends_at, time_zone=event.time_zone,
                       short=style == "short")


@register.simple_tag
def face(member, handle: bool = False) -> SafeString:
    """`{% face m %}` (`handle=True`: their @username under the name): their Bluesky avatar (an
    https address from the App View, escaped) or their initials, and their name. Drawn here, not by
    an included template: lists of a hundred people draw it a hundred times per build."""
    if member.bluesky_avatar_url:
        picture = format_html('<img class="avatar avatar-sm" src="{}" width="32" height="32" alt="" loading="lazy" '
                              'decoding="async" referrerpolicy="no-referrer">', member.bluesky_avatar_url)
    else:
        picture = format_html('<span class="avatar avatar-sm initial" aria-hidden="true">{}</span>', member.initials)
    if handle:
        text = format_html('<span class="person-text"><span class="person-name">{}</span>'
                           '<span class="person-handle">@{}</span></span>', member.face_name, member.username)
    else:
        text = format_html('<span class="person-name">{}</span>', member.face_name)
    return format_html('<span class="person face">{}{}</span>', picture, text)
