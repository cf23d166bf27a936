"""{% calendar_feed_card %}: the logged-in member's private calendar feed, for their profile;
`{{ event|zone_label }}`: the event's zone as people say it ("Berlin time (UTC+1)");
`{{ event|event_when }}`: its time in words with the zone, in the active language;
`{% face member %}`: a person's face and name."""

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

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
    return mark_safe(_face_html(member, handle=handle))  # noqa: S308 - every value escaped in _face_html


@register.simple_tag
def faces(rows, host_id: int | None = None) -> SafeString:
    """`{% faces rows event.host_id %}`: the list items of a guest list (rows with a `member`),
    the host's marked: one call for the whole list, not template nodes per person."""
    host = format_html(' <span class="badge" id="host-badge">{}</span>', gettext("Host"))
    items = [f"<li>{_face_html(row.member)}{host if row.member_id == host_id else ''}</li>" for row in rows]
    return mark_safe("".join(items))  # noqa: S308 - every value escaped in _face_html


def _face_html(member, *, handle: bool = False) -> str:
    # An f-string over escaped values: format_html per piece costs several times more per person.
    if member.bluesky_avatar_url:
        picture = (f'<img class="avatar avatar-sm" src="{escape(member.bluesky_avatar_url)}" width="32" height="32" '
                   'alt="" loading="lazy" decoding="async" referrerpolicy="no-referrer">')
    else:
        picture = f'<span class="avatar avatar-sm initial" aria-hidden="true">{escape(member.initials)}</span>'
    name = f'<span class="person-name">{escape(member.face_name)}</span>'
    if handle:
        name = f'<span class="person-text">{name}<span class="person-handle">@{escape(member.username)}</span></span>'
    return f'<span class="person face">{picture}{name}</span>'


@register.simple_tag
def event_cards(events) -> SafeString:
    """`{% event_cards events %}`: the cards of a list of events (home, community, Upcoming), each
    from `Event.card`. Drawn here: thirty cards through a template were most of a cold home."""
    return mark_safe("".join(_event_card_html(event.card) for event in events))  # noqa: S308 - escaped below


@register.simple_tag
def event_card(event) -> SafeString:
    """`{% event_card event %}`: one card, as in `event_cards`."""
    return mark_safe(_event_card_html(event.card))  # noqa: S308 - escaped in _event_card_html


def _event_card_html(card: dict) -> str:
    cancelled = f'<span class="badge cancelled">{escape(gettext("Cancelled"))}</span> ' if card["cancelled"] else ""
    meta = f'{escape(card["when"])} · {escape(card["zone"])}'
    where = (f' · {escape(card["venue"])}' if card["venue"] else "") + (
        f' · {escape(gettext("Online"))}' if card["online"] else "")
    counts = [ngettext("%(counter)s going", "%(counter)s going", card["going"]) % {"counter": card["going"]}
              ] if card["going"] else []
    if card["maybe"]:
        counts.append(ngettext("%(counter)s maybe", "%(counter)s maybe", card["maybe"]) % {"counter": card["maybe"]})
    extra = str(escape(", ".join(counts)))
    if card["community"]:
        extra += (" · " if counts else "") + escape(card["community"])
    extra_line = f'<p class="meta">{extra}</p>' if extra else ""
    return (f'<li class="card card-link event-card"><div class="date-tile" aria-hidden="true">'
            f'<span class="date-tile-month">{escape(card["month"])}</span>'
            f'<span class="date-tile-day">{escape(card["day"])}</span></div><div class="event-card-body">'
            f'<h3>{cancelled}<a href="{escape(card["url"])}">{escape(card["title"])}</a></h3>'
            f'<p class="meta"><time datetime="{escape(card["iso"])}">{meta}</time>{where}</p>{extra_line}</div></li>')
