"""Members' faces: their Bluesky display name and avatar, read from the App View's public
`app.bsky.actor.getProfiles` and kept on the member row (`Member.bluesky_*`), so pages show
them without calling Bluesky. Refreshed daily (beat) and when a member connects.

The avatar's address comes from outside: only an https URL given by the App View is kept (its
CDN), bounded in length; templates escape it and set its size and alt text. Nothing here fetches
the image itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from bluesky import clients
from bluesky.atproto import AtprotoError
from bluesky.atproto.syntax import is_valid_did
from bluesky.models import BlueskyIdentity, BlueskySignIn, MemberAppPassword

logger = logging.getLogger(__name__)

# getProfiles takes at most 25 actors per call (app.bsky.actor.getProfiles' lexicon).
PROFILES_PER_CALL = 25
PROFILE_MAX_AGE = timedelta(days=1)
_AVATAR_MAX = 2000


def member_dids(*, member_ids: Iterable[int] | None = None) -> dict[str, int]:
    """DID -> member id for members with a Bluesky account, one account per member: the connected
    one, else the one they signed up with, else the one their app password posts from."""
    did_of: dict[int, str] = {}
    for model in (MemberAppPassword, BlueskySignIn, BlueskyIdentity):  # later sources win
        rows = model.objects.all() if member_ids is None else model.objects.filter(member_id__in=list(member_ids))
        did_of.update({member_id: did for did, member_id in rows.values_list("did", "member_id") if did})
    return {did: member_id for member_id, did in did_of.items()}


def _clean_profile(item: Any) -> tuple[str, str, str] | None:
    if not isinstance(item, dict) or not isinstance(item.get("did"), str):
        return None
    name = item.get("displayName")
    name = " ".join(name.split())[:640] if isinstance(name, str) else ""
    avatar = item.get("avatar")
    # untrusted input: only an https address of modest length is ever put in an <img src>.
    avatar = avatar if isinstance(avatar, str) and avatar.startswith("https://") and len(avatar) <= _AVATAR_MAX else ""
    return item["did"], name, avatar


def member_profiles_refresh(*, member_ids: Iterable[int] | None = None, stale_only: bool = False) -> int:
    """Read the profiles of these members (all with a Bluesky account when None) from the App
    View and keep name and avatar on their rows; returns how many rows changed. An account the
    App View does not know (deleted, taken down) loses its face; a failed call keeps what we had."""
    dids = member_dids(member_ids=member_ids)
    if stale_only:
        fresh = set(get_user_model().objects.filter(pk__in=set(dids.values()),
                                          bluesky_profile_at__gte=timezone.now() - PROFILE_MAX_AGE)
                    .values_list("pk", flat=True))
        dids = {did: pk for did, pk in dids.items() if pk not in fresh}
    ordered = [did for did in dids if is_valid_did(did)]
    url = f"{settings.BLUESKY_APPVIEW_URL}/xrpc/app.bsky.actor.getProfiles"
    changed = 0
    for start in range(0, len(ordered), PROFILES_PER_CALL):
        chunk = ordered[start:start + PROFILES_PER_CALL]
        try:
            body, _response = clients.safe_http_client().get_json(url, params={"actors": chunk})
        except AtprotoError as exc:
            logger.info("member profiles not read", extra={"failure": type(exc).__name__})
            continue
        profiles = body.get("profiles")
        seen = {}
        for item in profiles if isinstance(profiles, list) else []:
            cleaned = _clean_profile(item)
            if cleaned is not None and cleaned[0] in dids:
                seen[cleaned[0]] = cleaned
        now = timezone.now()
        members = get_user_model().objects.in_bulk([dids[did] for did in chunk])
        unchanged = []
        for did in chunk:
            member = members.get(dids[did])
            if member is None:
                continue
            _, name, avatar = seen.get(did, (did, "", ""))
            if (member.bluesky_display_name, member.bluesky_avatar_url) == (name, avatar):
                unchanged.append(member.pk)
                continue
            member.bluesky_display_name, member.bluesky_avatar_url, member.bluesky_profile_at = name, avatar, now
            # Saved, not updated: every page showing this member learns of it (post_save).
            member.save(update_fields=["bluesky_display_name", "bluesky_avatar_url", "bluesky_profile_at"])
            changed += 1
        # Only when it was read: no page shows that (pages.table: the Member row's `only`).
        get_user_model().objects.filter(pk__in=unchanged).update(bluesky_profile_at=now)
    return changed
