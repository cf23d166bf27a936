"""The few facts invitations need about an event or a community, and about a member's Bluesky DID.

Kept in one module so the rest of the app does not depend on the field names of the `elonara`
and `bluesky` models.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.apps import apps
from django.conf import settings
from django.utils import formats, timezone


def _model(app_label: str, name: str):
    return apps.get_model(app_label, name)


def target_kind(target: Any) -> str:
    return "event" if target._meta.model_name == "event" else "community"


def target_name(target: Any) -> str:
    return str(getattr(target, "name", None) or getattr(target, "title", None) or target)


def target_date_text(target: Any) -> str:
    """The event's start in its own time zone, e.g. "Fri 5 Dec 2026, 19:00 (Europe/Paris)"."""
    when = getattr(target, "starts_at", None)
    if when is None:
        return ""
    zone_name = getattr(target, "time_zone", "") or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone, zone_name = ZoneInfo("UTC"), "UTC"
    return formats.date_format(timezone.localtime(when, zone), "D j M Y, H:i") + f" ({zone_name})"


def target_public_url(target: Any, *, token: str) -> str:
    """Absolute URL of the target's page with the invitation token, so the landing page knows it."""
    return f"{settings.ELONARA_PUBLIC_URL}{target.get_absolute_url()}?{urlencode({'invitation': token})}"


def target_is_hosted_by(target: Any, *, member: Any) -> bool:
    from elonara import selectors as elonara_selectors

    if target_kind(target) == "event":
        return bool(elonara_selectors.event_is_host(event=target, member=member))
    return bool(elonara_selectors.community_is_host(community=target, member=member))


def _identity_model():
    try:
        return _model("bluesky", "BlueskyIdentity")
    except LookupError:  # before the Connect-Bluesky models exist nobody has a DID
        return None


def member_did(member: Any) -> str:
    model = _identity_model()
    if model is None or member is None or not getattr(member, "is_authenticated", False):
        return ""
    identity = model.objects.filter(member=member).only("did").first()
    return identity.did if identity else ""


def member_did_subquery(member: Any) -> Any:
    """The member's DID as a subquery (empty when not connected): one query instead of two."""
    model = _identity_model()
    if model is None or member is None or not getattr(member, "is_authenticated", False):
        return None
    return model.objects.filter(member=member).values("did")[:1]


def member_is_in(target: Any, *, member: Any) -> bool:
    """Has the member RSVPed to the event / joined the community?"""
    from elonara import selectors as elonara_selectors

    if target_kind(target) == "event":
        return bool(elonara_selectors.event_is_attending(event=target, member=member))
    return bool(elonara_selectors.community_is_member(community=target, member=member))


def target_member_dids(target: Any, *, dids: list[str]) -> set[str]:
    """Which of these DIDs belong to members already attending / in the community."""
    if not dids:
        return set()
    model = _identity_model()
    if model is None:
        return set()
    identities = model.objects.filter(did__in=dids).select_related("member")
    return {i.did for i in identities if member_is_in(target, member=i.member)}


def member_handle(member: Any) -> str:
    model = _identity_model()
    if model is None:
        return ""
    identity = model.objects.filter(member=member).only("handle").first()
    return identity.handle if identity else ""
