"""Link-card facts for an event or a community: what a page preview (Open Graph / Twitter
tags) and a Bluesky `app.bsky.embed.external` embed show.

Pure reads: no network. The only I/O is reading the stored cover image when asked for its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from elonara.images import OUTPUT_MIME
from elonara.models import Community, Event
from elonara.when import event_when

DESCRIPTION_MAX = 300
SNIPPET_MAX = 200


@dataclass(frozen=True)
class CardImage:
    url: str  # absolute
    mime_type: str
    width: int | None
    height: int | None
    alt: str
    data: bytes | None  # None unless asked for (with_image_bytes=True)


@dataclass(frozen=True)
class LinkCard:
    title: str
    description: str  # one line
    url: str  # absolute, canonical (no invitation token)
    image: CardImage | None


def absolute_url(path_or_url: str) -> str:
    """Absolute URL on the public origin; a storage backend's own absolute URL is kept as is."""
    if path_or_url.startswith(("https://", "http://")):
        return path_or_url
    return f"{settings.ELONARA_PUBLIC_URL}{path_or_url}"



def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def event_when_text(event: Event) -> str:
    """E.g. "Sun 1 Jun 2031, 09:30–12:00, Berlin time (UTC+2)", in the event's own zone and the
    active language (elonara.when)."""
    return event_when(starts_at=event.starts_at, ends_at=event.ends_at, time_zone=event.time_zone, short=True)


def _image(target: Event | Community, *, with_image_bytes: bool) -> CardImage | None:
    if not target.image:
        return None
    data = None
    if with_image_bytes:
        with target.image.storage.open(target.image.name, "rb") as handle:
            data = handle.read()
    return CardImage(
        url=absolute_url(target.image.url), mime_type=OUTPUT_MIME, width=target.image_width,
        height=target.image_height, alt=target.image_alt, data=data,
    )


def event_link_card(*, event: Event, with_image_bytes: bool = True) -> LinkCard:
    place = event.venue or ("Online" if event.online_url else "")
    parts = [event_when_text(event), place]
    description = _one_line(" · ".join(p for p in parts if p), DESCRIPTION_MAX)
    title = event.title
    if event.status == Event.Status.CANCELLED:
        title, description = f"Cancelled: {title}", f"Cancelled · {description}"
    return LinkCard(
        title=title, description=description, url=absolute_url(event.get_absolute_url()),
        image=_image(event, with_image_bytes=with_image_bytes),
    )


def community_link_card(*, community: Community, with_image_bytes: bool = True, members: int | None = None
                        ) -> LinkCard:
    """`members`: the member count when the caller has it (else one query)."""
    if members is None:
        members = community.memberships.count()
    parts = [
        _one_line(community.description, SNIPPET_MAX) if community.description.strip() else "A community on Elonara",
        f"{members} member{'s' if members != 1 else ''}",
    ]
    return LinkCard(
        title=community.name, description=_one_line(" · ".join(parts), DESCRIPTION_MAX),
        url=absolute_url(community.get_absolute_url()), image=_image(community, with_image_bytes=with_image_bytes),
    )


def link_card_for(target: Event | Community, *, with_image_bytes: bool = True) -> LinkCard:
    """The card of an event or a community (what an invitation post's external embed shows)."""
    if isinstance(target, Event):
        return event_link_card(event=target, with_image_bytes=with_image_bytes)
    return community_link_card(community=target, with_image_bytes=with_image_bytes)
