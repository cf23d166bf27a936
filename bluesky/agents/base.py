"""`BlueskyAgentInterface`: the one way Elonara writes a post. Callers never know which backend.

Every agent: validates the record before any request, writes with com.atproto.repo.createRecord
through a `PdsSession` (with the caller's record key when given, so a retried task can never
create a second post), and maps every failure to a `BlueskyResult` here, in one place (no
exception escapes `create_post_for_member`).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bluesky.agents.results import BlueskyResult
from bluesky.atproto import AtprotoError, TransportError, XrpcError
from bluesky.atproto.xrpc import TOKEN_ERROR_NAMES
from bluesky.errors import BlueskyError, Reason, RecordValidationError
from bluesky.lexicon import validate_record
from bluesky.records import POST_NSID, BlobUpload, is_valid_rkey, validate_post_record
from bluesky.sessions import PdsSession
from core import metrics

if TYPE_CHECKING:
    from core.users import Member

logger = logging.getLogger(__name__)

# The session kind an agent writes through (OAuth or app password).
SessionT = TypeVar("SessionT", bound=PdsSession)

_SERVER_MESSAGE_MAX = 200
# putRecord with swapRecord: read-merge-write rounds before reporting a conflict (never forever).
SWAP_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class PostingAccount:
    """The account an agent writes with for a member. `key` is stable across attempts and names
    the write budget that account spends: `member:<pk>` or `relay:<identifier>` (app passwords),
    `did:<did>` (OAuth)."""

    kind: str  # "member", "relay" or "oauth"
    key: str
    # The handle (or the configured identifier) the post will appear under: shown in previews.
    handle: str = ""
    # What the agent loaded to name this account (the app-password credentials or the OAuth
    # identity row): handed back to `create_post_for_member` so one attempt looks the account up
    # once. Never shown or compared.
    loaded: Any = field(default=None, repr=False, compare=False)


def with_thumb(record: dict[str, Any], blob: dict[str, Any]) -> dict[str, Any]:
    """The record with its link card's thumbnail set to an uploaded blob (the input is not changed)."""
    embed = record["embed"]
    return {**record, "embed": {**embed, "external": {**embed["external"], "thumb": blob}}}


def _server_words(exc: XrpcError) -> str:
    """The server's error name and message, trimmed: shown to members, so never our own secrets
    (servers never echo our tokens back in error bodies; the length cap keeps junk out)."""
    words = f"{exc.error}: {exc.server_message}" if exc.error and exc.server_message else (
        exc.error or exc.server_message)
    return words[:_SERVER_MESSAGE_MAX]


def result_from_xrpc_error(exc: XrpcError, *, agent: str, repo_did: str = "", thing: str = "post") -> BlueskyResult:
    words = _server_words(exc)
    common: dict[str, Any] = {"agent": agent, "repo_did": repo_did,
                              "payload": {"status": exc.status, "error": exc.error}}
    if exc.status == 429:
        return BlueskyResult.failure(reason=Reason.RATE_LIMITED, retryable=True, retry_after=exc.retry_after,
                                     error="Bluesky's rate limit was reached.",
                                     **common)
    if exc.status >= 500:
        return BlueskyResult.failure(
            reason=Reason.SERVER_ERROR, retryable=True, retry_after=exc.retry_after,
            error=f"The Bluesky server had a problem ({exc.status}).", **common)
    if exc.status == 403 and exc.error == "ScopeMissingError":
        return BlueskyResult.failure(
            reason=Reason.SCOPE_MISSING,
            error="Your Bluesky connection does not allow creating posts. Please reauthorize Elonara on your "
            "Bluesky card and grant posting permission.",
            **common,
        )
    if exc.status == 401 or exc.error in TOKEN_ERROR_NAMES:
        return BlueskyResult.failure(reason=Reason.NEEDS_REAUTHORIZATION,
                                     error="Bluesky refused our session; please reconnect the Bluesky account.",
                                     **common)
    if exc.status == 400 and (exc.error == "InvalidRecord" or "record" in words.lower()):
        return BlueskyResult.failure(reason=Reason.INVALID_RECORD, error=f"Bluesky refused the {thing} ({words}).",
                                     **common)
    return BlueskyResult.failure(
        reason=Reason.REQUEST_REJECTED,
        error=f"Bluesky refused the request ({exc.status}{': ' + words if words else ''}).",
        **common,
    )


def result_from_transport_error(exc: AtprotoError, *, agent: str, repo_did: str = "",
                                thing: str = "post") -> BlueskyResult:
    # A refused URL (UnsafeURLError) or a redirect will not get better; a timeout may.
    retryable = isinstance(exc, TransportError) and exc.retryable
    return BlueskyResult.failure(
        reason=Reason.TRANSPORT,
        error=(
            "Could not reach the Bluesky server (timeout or connection problem)."
            if retryable
            else "The Bluesky server gave an answer that cannot be used."
        ),
        retryable=retryable,
        payload={"error": exc.code},
        agent=agent,
        repo_did=repo_did,
    )


class BlueskyAgentInterface(abc.ABC, Generic[SessionT]):
    """Writes posts for members. Implementations: `LegacyBlueskyAgent`, `OAuthBlueskyAgent`."""

    name: str = ""

    @abc.abstractmethod
    def posting_account(self, member: Member) -> PostingAccount | None:
        """The account this agent would write with for `member` (None: it has none)."""

    @abc.abstractmethod
    def _open_session(self, member: Member, posting: PostingAccount | None = None) -> SessionT:
        """A session on the posting account (`posting`: the one `posting_account` gave for this
        member in this attempt, not looked up again); raises `BlueskyError` when there is none."""

    def _check_session(self, session: SessionT) -> BlueskyResult | None:
        """A failure to report before any write (e.g. a grant that cannot post), or None."""
        return None

    def _may_upload(self, session: SessionT, mime_type: str) -> bool:
        """Whether this session may upload a blob of that type (an OAuth grant may not)."""
        return True

    def create_post_for_member(self, member: Member, record: dict[str, Any], *, rkey: str | None = None,
                               thumb: BlobUpload | None = None, account: PostingAccount | None = None) -> BlueskyResult:
        """`account`: `posting_account(member)` when the caller already asked for it (one lookup)."""
        result = self._create_post_for_member(member, record, rkey=rkey, thumb=thumb, account=account)
        if result.reason == Reason.RATE_LIMITED:
            metrics.bluesky_rate_limited(self.name)
        return result

    def _create_post_for_member(self, member: Member, record: dict[str, Any], *, rkey: str | None,
                                thumb: BlobUpload | None, account: PostingAccount | None) -> BlueskyResult:
        """Create `record` (an app.bsky.feed.post) for `member`.

        `rkey`: fix the record key before the first attempt so a retry can never create a second
        post; if that key already holds this exact record, the result is a success with the
        existing URI/CID and `already_existed=True`.
        `thumb`: the image of the record's link card (`embed.external`), uploaded by the posting
        account first. A session not allowed to upload images posts the card without it. The
        same bytes give the same blob, so a retry writes the identical record.
        """
        try:
            validate_post_record(record)
        except RecordValidationError as exc:
            return BlueskyResult.failure(
                reason=Reason.INVALID_RECORD, error=exc.message, agent=self.name,
                payload={"problems": [{"field": p.field, "message": p.message} for p in exc.problems]},
            )
        if rkey is not None and not is_valid_rkey(rkey):
            return BlueskyResult.failure(reason=Reason.INVALID_RECORD, error="The record key is not valid.",
                                         agent=self.name)

        def write(session: SessionT) -> BlueskyResult:
            post = record
            if thumb is not None and "embed" in post and self._may_upload(session, thumb.mime_type):
                post = with_thumb(post, session.upload_blob(thumb.data, mime_type=thumb.mime_type))
                validate_post_record(post)
            return self._write_post(session=session, record=post, rkey=rkey)

        return self._mapped(open_session=lambda: self._open_session(member, account), check=self._check_session,
                            write=write, thing="post")

    def _mapped(self, *, open_session: Callable[[], SessionT],
                check: Callable[[SessionT], BlueskyResult | None],
                write: Callable[[SessionT], BlueskyResult], thing: str) -> BlueskyResult:
        """Open the session, check it, write; every failure mapped to a `BlueskyResult` here, once."""
        repo_did = ""
        try:
            session = open_session()
            repo_did = session.did
            refused = check(session)
            if refused is not None:
                return refused
            return write(session)
        except RecordValidationError as exc:
            return BlueskyResult.failure(reason=Reason.INVALID_RECORD, error=exc.message, agent=self.name,
                                         repo_did=repo_did)
        except BlueskyError as exc:
            return BlueskyResult.failure(reason=exc.code, error=exc.message, retryable=exc.retryable,
                                         retry_after=exc.retry_after, agent=self.name, repo_did=repo_did)
        except XrpcError as exc:
            return result_from_xrpc_error(exc, agent=self.name, repo_did=repo_did, thing=thing)
        except AtprotoError as exc:
            return result_from_transport_error(exc, agent=self.name, repo_did=repo_did, thing=thing)
        except Exception as exc:  # noqa: BLE001 - the contract: callers always get a BlueskyResult
            # Only the class name is logged: exception text could carry server-controlled content.
            logger.error("unexpected error while writing a Bluesky %s: %s", thing, type(exc).__name__)
            return BlueskyResult.failure(reason=Reason.INTERNAL_ERROR, agent=self.name, repo_did=repo_did,
                                         error="Something went wrong while writing to Bluesky.")

    # --- the write path, shared -----------------------------------------------------------------

    def _write_post(self, *, session: SessionT, record: dict[str, Any], rkey: str | None) -> BlueskyResult:
        repo_did = session.did
        body: dict[str, Any] = {"repo": repo_did, "collection": POST_NSID, "record": record}
        if rkey:
            body["rkey"] = rkey
        try:
            payload = session.post("com.atproto.repo.createRecord", json=body)
        except XrpcError as exc:
            # A taken key is refused in a server-specific way (the official PDS answers 500 "There is
            # already a value at key"; others 400/409), and a 5xx may also hide a write that did happen.
            # So with a fixed key, read it back: if it holds exactly this record, an earlier attempt
            # succeeded and this is that post, not a failure.
            if rkey and (exc.status in (400, 409) or exc.status >= 500):
                settled = self._settle_from_existing(session=session, record=record, rkey=rkey)
                if settled is not None:
                    return settled
            return result_from_xrpc_error(exc, agent=self.name, repo_did=repo_did)
        except TransportError as exc:
            # A timeout may come after the PDS committed the write: same read-back.
            if rkey:
                settled = self._settle_from_existing(session=session, record=record, rkey=rkey)
                if settled is not None:
                    return settled
            return result_from_transport_error(exc, agent=self.name, repo_did=repo_did)
        uri, cid = payload.get("uri"), payload.get("cid")
        if not isinstance(uri, str) or not isinstance(cid, str) or not uri.startswith("at://"):
            return BlueskyResult.failure(reason=Reason.REQUEST_REJECTED, agent=self.name, repo_did=repo_did,
                                         error="The Bluesky server did not return the created post.")
        return BlueskyResult.ok(uri=uri, cid=cid, payload=payload, agent=self.name, repo_did=repo_did)

    def _settle_from_existing(self, *, session: SessionT, record: dict[str, Any],
                              rkey: str) -> BlueskyResult | None:
        try:
            existing = session.get("com.atproto.repo.getRecord",
                                   params={"repo": session.did, "collection": POST_NSID, "rkey": rkey})
        except AtprotoError:
            return None
        if existing.get("value") == record:
            return BlueskyResult.ok(uri=str(existing.get("uri", "")), cid=str(existing.get("cid", "")),
                                    payload=existing, agent=self.name, repo_did=session.did, already_existed=True)
        return BlueskyResult.failure(reason=Reason.RKEY_CONFLICT, agent=self.name, repo_did=session.did,
                                     error="A different post already uses this record key.")

    # --- records in the member's own repository (calendar events, RSVPs) ---------------------
    # Never the relay account: a record in someone's repository speaks for that person.

    @abc.abstractmethod
    def record_account(self, member: Member) -> PostingAccount | None:
        """The member's own account this agent would write records with (None: it has none)."""

    @abc.abstractmethod
    def _open_record_session(self, member: Member) -> SessionT:
        """A session on the member's own account; raises `BlueskyError` when there is none."""

    def _check_record_write(self, session: SessionT, collection: str, action: str) -> BlueskyResult | None:
        """A failure to report before writing `collection` (e.g. a grant without it), or None."""
        return None

    def _record_call(self, member: Member, collection: str, action: str,
                     write: Callable[[SessionT], BlueskyResult]) -> BlueskyResult:
        """Open the member's own session, check the grant, run `write(session)`; failures mapped."""
        return self._mapped(open_session=lambda: self._open_record_session(member),
                            check=lambda session: self._check_record_write(session, collection, action),
                            write=write, thing="record")

    def record_put_for_member(self, member: Member, *, collection: str, rkey: str, record: dict[str, Any],
                              managed_keys: frozenset[str] | None = None) -> BlueskyResult:
        """Make `at://<member>/<collection>/<rkey>` hold `record`, created or updated in place.

        The record is checked against its bundled lexicon before any request. An existing record is
        read first: keys outside `managed_keys` (default: the keys of `record`) are kept, so fields
        another app added survive our update. The write is a putRecord with `swapRecord` on the CID
        just read; if the record changed meanwhile (InvalidSwap) it is read again and merged again,
        at most `SWAP_ATTEMPTS` times, then reported as a retryable `swap_conflict`. When the record
        already holds exactly this, nothing is written (`already_existed=True`).
        """
        try:
            validate_record(collection, record)
        except RecordValidationError as exc:
            return BlueskyResult.failure(
                reason=Reason.INVALID_RECORD, error=exc.message, agent=self.name,
                payload={"problems": [{"field": p.field, "message": p.message} for p in exc.problems]},
            )
        if not is_valid_rkey(rkey):
            return BlueskyResult.failure(reason=Reason.INVALID_RECORD, error="The record key is not valid.",
                                         agent=self.name)
        ours = frozenset(record) | (managed_keys or frozenset())
        return self._record_call(member, collection, "update",
                                 lambda session: self._put(session, collection, rkey, record, ours))

    def own_post_create_for_member(self, member: Member, record: dict[str, Any], *, rkey: str,
                                   thumb: BlobUpload | None = None) -> BlueskyResult:
        """Create a post in the member's OWN repository (their OAuth grant or their own app
        password, never the relay: an announcement speaks as the host). Same contract as
        `create_post_for_member`: validated first, the card's thumbnail uploaded when the session
        may, and the fixed `rkey` makes a retry settle on the post an earlier attempt wrote."""
        try:
            validate_post_record(record)
        except RecordValidationError as exc:
            return BlueskyResult.failure(reason=Reason.INVALID_RECORD, error=exc.message, agent=self.name)
        if not is_valid_rkey(rkey):
            return BlueskyResult.failure(reason=Reason.INVALID_RECORD, error="The record key is not valid.",
                                         agent=self.name)

        def write(session: SessionT) -> BlueskyResult:
            post = record
            if thumb is not None and "embed" in post and self._may_upload(session, thumb.mime_type):
                post = with_thumb(post, session.upload_blob(thumb.data, mime_type=thumb.mime_type))
                validate_post_record(post)
            return self._write_post(session=session, record=post, rkey=rkey)

        result = self._record_call(member, POST_NSID, "create", write)
        if result.reason == Reason.RATE_LIMITED:
            metrics.bluesky_rate_limited(self.name)
        return result

    def record_delete_for_member(self, member: Member, *, collection: str, rkey: str) -> BlueskyResult:
        """Delete the record (a missing record is a success: the outcome is the same)."""
        if not is_valid_rkey(rkey):
            return BlueskyResult.failure(reason=Reason.INVALID_RECORD, error="The record key is not valid.",
                                         agent=self.name)

        def delete(session: SessionT) -> BlueskyResult:
            session.post("com.atproto.repo.deleteRecord",
                         json={"repo": session.did, "collection": collection, "rkey": rkey})
            return BlueskyResult.ok(uri=f"at://{session.did}/{collection}/{rkey}", cid="", agent=self.name,
                                    repo_did=session.did)

        return self._record_call(member, collection, "delete", delete)

    def _read(self, session: SessionT, collection: str, rkey: str) -> tuple[dict[str, Any], str] | None:
        try:
            found = session.get("com.atproto.repo.getRecord",
                                params={"repo": session.did, "collection": collection, "rkey": rkey})
        except XrpcError as exc:
            if exc.status == 404 or (exc.status == 400 and exc.error == "RecordNotFound"):
                return None
            raise
        value, cid = found.get("value"), found.get("cid")
        if not isinstance(value, dict) or not isinstance(cid, str):
            return None
        return value, cid

    def _put(self, session: SessionT, collection: str, rkey: str, record: dict[str, Any],
             ours: frozenset[str]) -> BlueskyResult:
        repo_did = session.did
        for _attempt in range(SWAP_ATTEMPTS):
            current = self._read(session, collection, rkey)
            body: dict[str, Any] = {"repo": repo_did, "collection": collection, "rkey": rkey}
            if current is None:
                merged, nsid = record, "com.atproto.repo.createRecord"
            else:
                value, cid = current
                merged = {**{k: v for k, v in value.items() if k not in ours}, **record}
                if merged == value:
                    return BlueskyResult.ok(uri=f"at://{repo_did}/{collection}/{rkey}", cid=cid, agent=self.name,
                                            repo_did=repo_did, already_existed=True)
                nsid = "com.atproto.repo.putRecord"
                body["swapRecord"] = cid
            body["record"] = merged
            try:
                payload = session.post(nsid, json=body)
            except XrpcError as exc:
                # Changed under us (InvalidSwap), or created meanwhile (a taken key is refused with
                # 400/409/500 depending on the server): read again and merge again.
                if exc.error == "InvalidSwap":
                    continue
                if current is None and self._read(session, collection, rkey) is not None:
                    continue
                raise
            written_uri, written_cid = payload.get("uri"), payload.get("cid")
            if (not isinstance(written_uri, str) or not isinstance(written_cid, str)
                    or not written_uri.startswith("at://")):
                return BlueskyResult.failure(reason=Reason.REQUEST_REJECTED, agent=self.name, repo_did=repo_did,
                                             error="The Bluesky server did not return the written record.")
            return BlueskyResult.ok(uri=written_uri, cid=written_cid, payload=payload, agent=self.name,
                                    repo_did=repo_did)
        return BlueskyResult.failure(reason=Reason.SWAP_CONFLICT, retryable=True, agent=self.name, repo_did=repo_did,
                                     error="The record kept changing while we updated it; it will be retried.")
