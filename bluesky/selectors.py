"""Reads about Bluesky connections, posting accounts and the writes mode (never secrets out)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bluesky.atproto.nsid import EVENT_NSID, RSVP_NSID
from bluesky.atproto.scopes import (
    POST_COLLECTION,
    scope_allows_graph_reads,
    scope_allows_posting,
    scope_allows_record_write,
    scope_allows_rpc,
)
from bluesky.models import (
    AppPasswordSession,
    BlueskyIdentity,
    BlueskySignIn,
    MemberAppPassword,
    RelayAccount,
    WritesMode,
    WritesModeSetting,
)
from bluesky.sessions import member_credentials_get, relay_credentials_get
from core.sql import STAND_IN_ID, FixedQuery

if TYPE_CHECKING:
    from core.users import Member

# Plain words for the permissions a member granted.
_SCOPE_WORDS = {
    "atproto": _("Sign in with your Bluesky account"),
    "transition:generic": _("Full access, like an app password"),
    "transition:chat.bsky": _("Read and send chat messages"),
    "repo:app.bsky.feed.post?action=create": _("Create posts"),
    "repo:app.bsky.feed.post?action=create&action=delete": _("Create posts and delete the ones Elonara wrote"),
    "repo:app.bsky.feed.post": _("Create, edit and delete posts"),
    "repo:*": _("Change anything in your repository"),
    "blob:image/*": _("Upload images (link-card pictures)"),
    "repo:community.lexicon.calendar.event": _("Publish your events as calendar records other apps can show"),
    "repo:community.lexicon.calendar.rsvp": _("Publish your RSVPs as records other apps can show"),
}



def _allows_calls(*nsids: str) -> Callable[[str], bool]:
    return lambda scope: all(scope_allows_rpc(scope, nsid) for nsid in nsids)


def _allows_writes(collection: str, *actions: str) -> Callable[[str], bool]:
    return lambda scope: all(scope_allows_record_write(scope, collection, a) for a in actions)


# What Elonara does with a member's OAuth grant, each with its rule and its words. The default scope
# grew over time (deleting posts, blocks and mutes): a grant given before lacks the newer ones, and
# the member must reconnect to give them. Words finish "Reconnect Bluesky to allow ...".
GRANT_FEATURES: dict[str, tuple[Callable[[str], bool], str | Promise]] = {
    "posting": (scope_allows_posting, _("posting invitations")),
    "followers": (scope_allows_graph_reads, _("listing your followers")),
    "event_records": (_allows_writes(EVENT_NSID, "create", "update", "delete"),
                      _("publishing your events to other Bluesky apps")),
    "rsvp_records": (_allows_writes(RSVP_NSID, "create", "update", "delete"),
                     _("publishing your RSVPs to other Bluesky apps")),
    "delete_posts": (_allows_writes(POST_COLLECTION, "delete"), _("deleting the announcement posts Elonara wrote")),
    "blocked_by": (_allows_calls("app.bsky.actor.getProfiles"),
                   _("leaving out of your invitations people who block you")),
    "blocks_mutes": (_allows_calls("app.bsky.graph.getBlocks", "app.bsky.graph.getMutes"),
                     _("hiding events by people you block or mute")),
}


def scope_missing_features(scope: str) -> list[str]:
    """What Elonara cannot do with this grant, in words (empty: everything it asks for)."""
    return [str(words) for allows, words in GRANT_FEATURES.values() if not allows(scope)]


def scope_grant_gaps(*, scope: str, features: Iterable[str]) -> tuple[str, ...]:
    """Which of `features` (keys of GRANT_FEATURES) the granted `scope` lacks, in words."""
    return tuple(str(GRANT_FEATURES[key][1]) for key in features if not GRANT_FEATURES[key][0](scope))


def identity_did_and_grant(*, member: Member) -> tuple[str, str | None]:
    """In one query: the DID of the member's Bluesky identity ("" if none) and the scope it
    granted while connected (None when nothing is connected: there is no grant to widen)."""
    if not member.is_authenticated:
        return "", None
    row = BlueskyIdentity.objects.filter(member=member).values_list("did", "scope", "status").first()
    if row is None:
        return "", None
    did, scope, status = row
    return did, scope if status == BlueskyIdentity.Status.CONNECTED else None


def identity_grant_gaps(*, member: Member, features: Iterable[str]) -> tuple[str, ...]:
    """Which of `features` (keys of GRANT_FEATURES) the member's connected OAuth grant lacks, in
    words: a page needing them offers to reconnect before anything fails. Empty when nothing is
    connected (the page asks to connect instead) or the grant allows them all. The caller asks only
    for what the OAuth grant would do (an app password is not limited by a scope)."""
    _did, scope = identity_did_and_grant(member=member)
    return () if scope is None else scope_grant_gaps(scope=scope, features=features)


def scope_in_words(scope: str) -> list[str]:
    words = []
    for token in scope.split():
        if token in _SCOPE_WORDS:
            words.append(str(_SCOPE_WORDS[token]))
        elif token.startswith("rpc:app.bsky.graph.getFollowers"):
            words.append(gettext("See who follows you"))
        elif token.startswith("rpc:app.bsky.graph.getFollows"):
            words.append(gettext("See who you follow"))
        elif token.startswith("rpc:app.bsky.actor.getProfiles"):
            words.append(gettext("See who blocks you (to leave them out of your invitations)"))
        elif token.startswith("rpc:app.bsky.graph.getBlocks"):
            words.append(gettext("See whom you block"))
        elif token.startswith("rpc:app.bsky.graph.getMutes"):
            words.append(gettext("See whom you mute"))
        else:
            words.append(token)
    return words


@dataclass(frozen=True)
class IdentitySummary:
    did: str
    handle: str
    server_host: str
    scope: str
    permissions: list[str]
    status: str
    connected_at: datetime
    can_post: bool
    can_read_graph: bool
    missing_features: tuple[str, ...] = ()


def identity_summary_of(identity: BlueskyIdentity) -> IdentitySummary:
    """The shown facts of an identity row (loaded with at least did, handle, pds_url, scope,
    status, connected_at); `BlueskyOAuthService.get_identity_for_member` is the door to it."""
    return IdentitySummary(
        did=identity.did, handle=identity.handle, server_host=urlsplit(identity.pds_url).netloc,
        scope=identity.scope, permissions=scope_in_words(identity.scope), status=identity.status,
        connected_at=identity.connected_at, can_post=scope_allows_posting(identity.scope),
        can_read_graph=scope_allows_graph_reads(identity.scope),
        missing_features=tuple(scope_missing_features(identity.scope)),
    )


def member_did_get(*, member: Member) -> str:
    """The DID of the member's connected (or expired) Bluesky identity; "" if none."""
    if not member.is_authenticated:
        return ""
    return BlueskyIdentity.objects.filter(member=member).values_list("did", flat=True).first() or ""


def member_did_subquery(*, member_id: int) -> QuerySet:
    """The DID of member `member_id` as a subquery: lets a caller filter by it in one query (a
    core.sql.FixedQuery too: it takes an id, not a row)."""
    return BlueskyIdentity.objects.filter(member_id=member_id).values("did")[:1]


def member_id_for_did(*, did: str) -> int | None:
    """The member whose Bluesky account (OAuth connection, sign-in link kept after a disconnect, or
    own app password) is `did`, in that order of preference. One query: the firehose consumer asks
    this for every answer it sees, nearly all by people who are not members."""
    sql, params = member_id_for_did_sql(did=did)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row is not None else None


def member_id_for_did_sql(*, did: str) -> tuple[str, list[str]]:
    """`member_id_for_did` as SQL and its parameters: a subquery for a caller's one query."""
    # Written as SQL: the ORM took ~1.2 ms to compile this union, the database runs it in
    # microseconds, and the consumer asks it per kept answer.
    links = " UNION ALL ".join(
        f'SELECT "member_id", {rank} AS "rank" FROM "{model._meta.db_table}" WHERE "did" = %s'  # noqa: S608 - our tables; the DID a parameter
        for rank, model in enumerate((BlueskyIdentity, BlueskySignIn, MemberAppPassword)))
    return f'SELECT "member_id" FROM ({links}) AS "links" ORDER BY "rank" LIMIT 1', [did] * 3  # noqa: S608


# --- Posting accounts ----------------------------------------------------------------------------

def member_can_write_records(*, member: Member) -> bool:
    """Whether some agent can write records in the member's own repository: a Bluesky connection or
    their own app password (what `BlueskyAgentFactory.make_for_records` finds, whatever the writes
    mode), in one query when connected."""
    if BlueskyIdentity.objects.filter(member_id=member.pk).exists():
        return True
    return member_credentials_get(member=member) is not None


@dataclass(frozen=True)
class AppPasswordSummary:
    """What the Bluesky card says about a member's app password: never the password itself."""

    identifier: str
    handle: str
    created_at: datetime


_APP_PASSWORD_SHOWN = FixedQuery(lambda member_id: (
    MemberAppPassword.objects.filter(member_id=member_id).order_by("pk")
    .values_list("identifier", "handle", "created_at")[:1]), member_id=STAND_IN_ID)


def member_app_password_get(*, member: Member) -> AppPasswordSummary | None:
    # Only the shown columns: loading the row would decrypt the password for nothing.
    if not member.is_authenticated:
        return None
    row = _APP_PASSWORD_SHOWN.first(member_id=member.pk)
    return AppPasswordSummary(identifier=row[0], handle=row[1], created_at=row[2]) if row else None


# --- Writes mode ---------------------------------------------------------------------------------

def writes_mode_default() -> str:
    mode = (settings.BLUESKY_WRITES_MODE or WritesMode.LEGACY).strip().lower()
    return mode if mode in WritesMode.values else WritesMode.LEGACY


def writes_mode_get() -> str:
    """The writes mode in force now (read from the database on every call: no restart needed)."""
    mode = WritesModeSetting.objects.filter(pk=WritesModeSetting.SINGLETON_PK).values_list("mode", flat=True).first()
    return mode or writes_mode_default()


@dataclass(frozen=True, slots=True)
class RelayStatus:
    configured: bool
    source: str  # "admin", "settings" or ""
    identifier: str
    did: str = ""
    handle: str = ""
    session_created_at: datetime | None = None
    refreshed_at: datetime | None = None
    create_count: int = 0
    refresh_count: int = 0
    last_error: str = ""


def relay_status_get() -> RelayStatus:
    account = relay_credentials_get()
    if account is None:
        return RelayStatus(configured=False, source="", identifier="")
    admin_row = RelayAccount.objects.filter(pk=RelayAccount.SINGLETON_PK).first()
    source = (
        "admin" if admin_row is not None and admin_row.identifier.strip() and admin_row.app_password else "settings"
    )
    row = AppPasswordSession.objects.filter(account_key=account.account_key).first()
    if row is None:
        return RelayStatus(configured=True, source=source, identifier=account.identifier)
    return RelayStatus(
        configured=True, source=source, identifier=account.identifier, did=row.did, handle=row.handle,
        session_created_at=row.session_created_at, refreshed_at=row.refreshed_at, create_count=row.create_count,
        refresh_count=row.refresh_count, last_error=row.last_error,
    )


def oauth_posting_identity_count() -> int:
    """Connected members whose granted scope lets Elonara post for them."""
    scopes = BlueskyIdentity.objects.filter(status=BlueskyIdentity.Status.CONNECTED).values_list("scope", flat=True)
    return sum(1 for scope in scopes.iterator() if scope_allows_posting(scope))
