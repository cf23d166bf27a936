"""The feed generator's services: who asks (the inter-service JWT), what they follow, the skeleton
they get, and the feed records published in the operator's account.

Who the requester is comes only from a verified service-auth token (`iss`), never from a parameter:
the personal feed is built from that account's follows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from bluesky import clients
from bluesky.atproto import AtprotoError
from bluesky.atproto.repo import KeyUnavailable, signing_key_in
from bluesky.atproto.service_auth import ServiceAuthError, ServiceCaller, bearer_token, verify_service_jwt
from bluesky.atproto.syntax import is_valid_at_uri
from bluesky.errors import BlueskyError
from bluesky.sessions import AppPasswordAccount, AppPasswordPdsSession
from core.tasks import task_on_commit
from elonara.models import Community
from elonara.selectors import community_is_host
from feeds import selectors
from feeds.errors import FeedError
from feeds.models import CommunityFeed, FeedRecord
from members.models import Member
from network.models import FollowedAccount, FollowSync
from network.services import FOLLOWS_TTL, account_follows_read

logger = logging.getLogger(__name__)

SKELETON_METHOD = "app.bsky.feed.getFeedSkeleton"
# Follows read from the App View for requesters who are not our members, kept this long: a feed is
# opened again and again while scrolling, the graph changes far more slowly.
FOLLOWS_CACHE_SECONDS = 600
KEY_RECHECK_SECONDS = 30


def requester_verify(*, authorization: str | None, method: str) -> ServiceCaller:
    """The account a request comes from, by its service-auth JWT (aud = our service DID, lxm = the
    method, not expired, signed by the `#atproto` key of the issuer's DID document)."""
    token = bearer_token(authorization)
    if token is None:
        raise FeedError("This feed is personal: open it in a Bluesky app while signed in.", code="auth",
                        xrpc_error="AuthMissing")
    try:
        return verify_service_jwt(token, audience=selectors.service_did(), method=method, keys=_signing_key)
    except ServiceAuthError as exc:
        raise FeedError(exc.message, code="auth", xrpc_error=exc.error) from exc


def _signing_key(did: str, fresh: bool) -> str:
    # A signature that fails is checked once more against a fresh document (the key may have
    # rotated), but a document younger than KEY_RECHECK_SECONDS counts as fresh: forged tokens
    # cannot make us fetch a DID document on every request.
    try:
        document = clients.identity_resolver().resolve_did(did, max_age=KEY_RECHECK_SECONDS if fresh else None)
    except AtprotoError as exc:
        raise KeyUnavailable(exc.code) from exc
    return signing_key_in(document, did)


def requester_follows(*, did: str) -> QuerySet | list[str]:
    """Whom the requester follows: our own copy when they are a member whose follows were copied
    within the refresh period (a subquery, no I/O), else the App View's answer, cached."""
    fresh_since = timezone.now() - FOLLOWS_TTL
    synced = FollowSync.objects.filter(
        member__bluesky_identity__did=did, synced_at__gt=fresh_since, error="").values_list("member_id", flat=True)
    member_id = synced.first()
    if member_id is not None:
        return FollowedAccount.objects.filter(member_id=member_id).values("did")
    key = follows_cache_key(did=did)
    kept = cache.get(key)
    if not isinstance(kept, str):
        try:
            read = account_follows_read(did=did)
        except AtprotoError as exc:
            raise FeedError("The accounts you follow could not be read; try again in a moment.",
                            code="publisher", xrpc_error="UpstreamFailure", retryable=True) from exc
        # Kept as one comma-joined string (a DID has no comma): thousands of DIDs read back from
        # Redis far faster so than as a pickled set.
        kept = ",".join(sorted(read))
        cache.set(key, kept, FOLLOWS_CACHE_SECONDS)
    return kept.split(",") if kept else []


def follows_cache_key(*, did: str) -> str:
    return f"feeds:follows:{did}"


def _rkey_of(feed_uri: str) -> str:
    if not is_valid_at_uri(feed_uri):
        raise FeedError("The feed parameter is not an at:// URI.", code="bad_request")
    parts = feed_uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != selectors.FEED_COLLECTION:
        raise FeedError("That is not a feed record's URI.", code="unknown_feed", xrpc_error="UnknownFeed")
    return parts[2]


def feed_skeleton(*, feed_uri: str, limit: int | None, cursor: str | None,
                  authorization: str | None) -> selectors.Skeleton:
    """One page of a feed (getFeedSkeleton). The personal feed needs the requester's token;
    a community's feed is public, like the community's page."""
    spec = selectors.feed_spec_for(rkey=_rkey_of(feed_uri))
    if spec is None:
        raise FeedError("Elonara serves no such feed.", code="unknown_feed", xrpc_error="UnknownFeed")
    size = min(max(limit or selectors.LIMIT_DEFAULT, 1), selectors.LIMIT_MAX)
    if spec.personal:
        caller = requester_verify(authorization=authorization, method=SKELETON_METHOD)
        return selectors.follows_skeleton(follows=requester_follows(did=caller.did), limit=size, cursor=cursor)
    if spec.community_id is None:  # every spec is personal or a community's
        raise FeedError("Elonara serves no such feed.", code="unknown_feed", xrpc_error="UnknownFeed")
    return selectors.community_skeleton(community_id=spec.community_id, limit=size, cursor=cursor)


def feed_uri(*, publisher_did: str, rkey: str) -> str:
    return f"at://{publisher_did}/{selectors.FEED_COLLECTION}/{rkey}"


def generator_describe() -> dict[str, Any]:
    """describeFeedGenerator: our DID and the feeds we serve (those published, by their URIs)."""
    published = dict(FeedRecord.objects.values_list("rkey", "uri"))
    feeds = [{"uri": published[spec.rkey]} for spec in selectors.feed_specs() if spec.rkey in published]
    return {"did": selectors.service_did(), "feeds": feeds}


def did_document() -> dict[str, Any] | None:
    """Our did:web document (the #bsky_fg service at the public URL), or None when our service DID
    is not a did:web of this host (a did:plc names its service in the PLC directory)."""
    did = selectors.service_did()
    expected = "did:web:" + settings.ELONARA_PUBLIC_URL.split("://", 1)[-1].split("/", 1)[0].replace(":", "%3A")
    if did != expected:
        return None
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "service": [{"id": "#bsky_fg", "type": "BskyFeedGenerator", "serviceEndpoint": settings.ELONARA_PUBLIC_URL}],
    }


# --- the community setting ----------------------------------------------------------------------

PUBLISH_TASK = "feeds.publish"


@transaction.atomic
def community_feed_set(*, community: Community, actor: Member, wanted: bool) -> bool:
    """An organizer turns the community's Bluesky feed on or off; the feed records are written
    again after commit when a publishing account is configured. Returns whether it is on."""
    if not community_is_host(community=community, member=actor):
        raise FeedError(gettext("Only the community's organizers can change its feed."), code="forbidden")
    if wanted:
        CommunityFeed.objects.get_or_create(community=community)
    else:
        CommunityFeed.objects.filter(community=community).delete()
    if settings.FEEDS_PUBLISHER_IDENTIFIER and settings.FEEDS_PUBLISHER_APP_PASSWORD:
        task_on_commit(PUBLISH_TASK)
    return wanted


@dataclass(frozen=True, slots=True)
class CommunityFeedState:
    wanted: bool
    web_url: str  # the feed's page in the Bluesky app, once published ("" before)


def community_feed_state(*, community: Community, actor: Member) -> CommunityFeedState:
    """What an organizer's page shows: whether the feed is on, and its address once published."""
    if not community_is_host(community=community, member=actor):
        raise FeedError(gettext("Only the community's organizers can change its feed."), code="forbidden")
    wanted = CommunityFeed.objects.filter(community=community).exists()
    rkey = selectors.community_feed_spec(community).rkey
    uri = FeedRecord.objects.filter(rkey=rkey).values_list("uri", flat=True).first() if wanted else None
    if not uri:
        return CommunityFeedState(wanted=wanted, web_url="")
    did = uri.removeprefix("at://").split("/", 1)[0]
    return CommunityFeedState(wanted=wanted, web_url=f"https://bsky.app/profile/{did}/feed/{rkey}")


# --- the feed records, in the operator's account ---------------------------------------------

def _publisher_session() -> AppPasswordPdsSession:
    identifier = settings.FEEDS_PUBLISHER_IDENTIFIER
    password = settings.FEEDS_PUBLISHER_APP_PASSWORD
    if not identifier or not password:
        raise FeedError("Set FEEDS_PUBLISHER_IDENTIFIER and FEEDS_PUBLISHER_APP_PASSWORD first.", code="publisher")
    account = AppPasswordAccount(account_key=f"feeds:{identifier}", identifier=identifier, app_password=password,
                                 kind="relay")
    try:
        return AppPasswordPdsSession(account).open()
    except (AtprotoError, BlueskyError) as exc:
        raise FeedError("The publishing account could not sign in.", code="publisher") from exc


def _generator_record(spec: selectors.FeedSpec, *, created_at: str) -> dict[str, Any]:
    return {"$type": selectors.FEED_COLLECTION, "did": selectors.service_did(), "displayName": spec.display_name,
            "description": spec.description, "createdAt": created_at}


def feeds_publish() -> list[FeedRecord]:
    """Write (or rewrite) one feed record per feed we serve in the operator's repository, and
    delete those of communities that no longer want one."""
    session = _publisher_session()
    did = session.row.did
    now = timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    specs = selectors.feed_specs()
    written = []
    try:
        for spec in specs:
            body = session.post("com.atproto.repo.putRecord", json={
                "repo": did, "collection": selectors.FEED_COLLECTION, "rkey": spec.rkey,
                "record": _generator_record(spec, created_at=now)})
            row, _ = FeedRecord.objects.update_or_create(
                rkey=spec.rkey, defaults={"uri": str(body.get("uri") or feed_uri(publisher_did=did, rkey=spec.rkey)),
                                          "cid": str(body.get("cid") or "")})
            written.append(row)
        wanted = {spec.rkey for spec in specs}
        for stale in FeedRecord.objects.exclude(rkey__in=wanted):
            _record_delete(session, did=did, row=stale)
    except (AtprotoError, BlueskyError) as exc:
        # The server's own words go to the log only (they are not ours to show).
        logger.warning("feed record refused: %s %s", getattr(exc, "error", ""), getattr(exc, "server_message", ""))
        raise FeedError("Bluesky refused a feed record; nothing more was written.", code="publisher") from exc
    return written


def _record_delete(session: AppPasswordPdsSession, *, did: str, row: FeedRecord) -> None:
    session.post("com.atproto.repo.deleteRecord",
                 json={"repo": did, "collection": selectors.FEED_COLLECTION, "rkey": row.rkey})
    row.delete()


def feeds_withdraw() -> int:
    """Delete every feed record we published; the Bluesky app then shows the feeds as gone."""
    session = _publisher_session()
    count = 0
    try:
        for row in FeedRecord.objects.all():
            _record_delete(session, did=session.row.did, row=row)
            count += 1
    except (AtprotoError, BlueskyError) as exc:
        raise FeedError("Bluesky refused to delete a feed record.", code="publisher") from exc
    return count
