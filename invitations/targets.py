"""The few facts invitations need about what they invite to: an event or a community.

One place for "event or community": the model filter, the words in the post, the landing URL and
who hosts or is already in it, so the rest of the app never branches on the kind itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils import formats, timezone

from bluesky.models import BlueskyIdentity
from elonara import selectors as elonara_selectors
from elonara.models import Community, Event, zone_label
from members.models import Member

Target = Event | Community


def target_kind(target: Target) -> str:
    return "event" if isinstance(target, Event) else "community"


def target_filter(target: Target) -> dict[str, Any]:
    """Keyword filter selecting rows about this target (invitations, batches)."""
    return {"event": target} if isinstance(target, Event) else {"community": target}


def target_fields(target: Target) -> dict[str, Any]:
    """Both target columns, for a new row: the one that applies set, the other None."""
    return {"event": target, "community": None} if isinstance(target, Event) else {"event": None, "community": target}


def target_name(target: Target) -> str:
    return target.title if isinstance(target, Event) else target.name


def target_date_text(target: Target) -> str:
    """The event's start in its own time zone, e.g. "Fri 5 Dec 2026, 19:00, Paris time (UTC+1)", in
    the active language's order (config/formats)."""
    if not isinstance(target, Event):
        return ""
    zone = target.zone
    return (formats.date_format(timezone.localtime(target.starts_at, zone), "EVENT_SHORT_FORMAT")
            + f", {zone_label(target.time_zone, target.starts_at)}")


def target_public_url(target: Target, *, token: str) -> str:
    """Absolute URL of the target's page with the invitation token, so the landing page knows it."""
    return f"{settings.ELONARA_PUBLIC_URL}{target.get_absolute_url()}?{urlencode({'invitation': token})}"


def target_public_path(target: Target, *, token: str) -> str:
    """The same page as `target_public_url`, as a path on this site."""
    return f"{target.get_absolute_url()}?{urlencode({'invitation': token})}"


def target_share_text(target: Target) -> str:
    """The text of a "Share on Bluesky" post: the name, the date for an event, the link."""
    link = f"{settings.ELONARA_PUBLIC_URL}{target.get_absolute_url()}"
    date = target_date_text(target)
    # Kept short: Bluesky posts hold 300 graphemes, and the member can still edit it in the composer.
    name = target_name(target)[:150]
    return f"{name}{' — ' + date if date else ''} {link}"


def target_is_hosted_by(target: Target, *, member: Member) -> bool:
    """May the member invite to it? An event's co-hosts do too, from their own account and caps."""
    if isinstance(target, Event):
        return elonara_selectors.event_can_manage(event=target, member=member)
    return elonara_selectors.community_is_host(community=target, member=member)


def member_is_in(target: Target, *, member: Member) -> bool:
    """Has the member RSVPed to the event / joined the community?"""
    if isinstance(target, Event):
        return elonara_selectors.event_is_attending(event=target, member=member)
    return elonara_selectors.community_is_member(community=target, member=member)


def target_member_dids(target: Target, *, dids: list[str]) -> set[str]:
    """Which of these DIDs belong to members already attending / in the community."""
    if not dids:
        return set()
    identities = BlueskyIdentity.objects.filter(did__in=dids).select_related("member")
    return {i.did for i in identities if member_is_in(target, member=i.member)}
