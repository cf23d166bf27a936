"""`BlueskyAgentInterface`: the one way Elonara writes a post. Callers never know which backend.

Every agent: validates the record before any request, writes with com.atproto.repo.createRecord
through a `PdsSession` (with the caller's record key when given, so a retried task can never
create a second post), and maps every failure to a `BlueskyResult` here, in one place (no
exception escapes `create_post_for_member`).
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import Any

from bluesky.agents.results import BlueskyResult
from bluesky.atproto import AtprotoError, TransportError, XrpcError
from bluesky.atproto.xrpc import TOKEN_ERROR_NAMES
from bluesky.errors import BlueskyError, Reason, RecordValidationError
from bluesky.records import POST_NSID, BlobUpload, is_valid_rkey, validate_post_record
from bluesky.sessions import PdsSession
from elonara import metrics
from members.models import Member

logger = logging.getLogger(__name__)

_SERVER_MESSAGE_MAX = 200


@dataclass(frozen=True, slots=True)
class PostingAccount:
    """The account an agent writes with for a member. `key` is stable across attempts and names
    the write budget that account spends: `member:<pk>` or `relay:<identifier>` (app passwords),
    `did:<did>` (OAuth)."""

    kind: str  # "member", "relay" or "oauth"
    key: str
    # The handle (or the configured identifier) the post will appear under: shown in previews.
    handle: str = ""


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


def result_from_xrpc_error(exc: XrpcError, *, agent: str, repo_did: str = "") -> BlueskyResult:
    words = _server_words(exc)
    common = {"agent": agent, "repo_did": repo_did, "payload": {"status": exc.status, "error": exc.error}}
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
        return BlueskyResult.failure(reason=Reason.INVALID_RECORD, error=f"Bluesky refused the post ({words}).",
                                     **common)
    return BlueskyResult.failure(
        reason=Reason.REQUEST_REJECTED,
        error=f"Bluesky refused the request ({exc.status}{': ' + words if words else ''}).",
        **common,
    )


def result_from_transport_error(exc: AtprotoError, *, agent: str, repo_did: str = "") -> BlueskyResult:
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


class BlueskyAgentInterface(abc.ABC):
    """Writes posts for members. Implementations: `LegacyBlueskyAgent`, `OAuthBlueskyAgent`."""

    name: str = ""

    @abc.abstractmethod
    def posting_account(self, member: Member) -> PostingAccount | None:
        """The account this agent would write with for `member` (None: it has none)."""

    @abc.abstractmethod
    def _open_session(self, member: Member) -> PdsSession:
        """A session on the posting account; raises `BlueskyError` when there is none."""

    def _check_session(self, session: PdsSession) -> BlueskyResult | None:
        """A failure to report before any write (e.g. a grant that cannot post), or None."""
        return None

    def _may_upload(self, session: PdsSession, mime_type: str) -> bool:
        """Whether this session may upload a blob of that type (an OAuth grant may not)."""
        return True

    def create_post_for_member(self, member: Member, record: dict[str, Any], *, rkey: str | None = None,
                               thumb: BlobUpload | None = None) -> BlueskyResult:
        result = self._create_post_for_member(member, record, rkey=rkey, thumb=thumb)
        if result.reason == Reason.RATE_LIMITED:
            metrics.bluesky_rate_limited(self.name)
        return result

    def _create_post_for_member(self, member: Member, record: dict[str, Any], *, rkey: str | None,
                                thumb: BlobUpload | None) -> BlueskyResult:
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
        repo_did = ""
        try:
            session = self._open_session(member)
            repo_did = session.did
            refused = self._check_session(session)
            if refused is not None:
                return refused
            if thumb is not None and "embed" in record and self._may_upload(session, thumb.mime_type):
                record = with_thumb(record, session.upload_blob(thumb.data, mime_type=thumb.mime_type))
                validate_post_record(record)
            return self._write_post(session=session, record=record, rkey=rkey)
        except RecordValidationError as exc:
            return BlueskyResult.failure(reason=Reason.INVALID_RECORD, error=exc.message, agent=self.name,
                                         repo_did=repo_did)
        except BlueskyError as exc:
            return BlueskyResult.failure(reason=exc.code, error=exc.message, retryable=exc.retryable,
                                         retry_after=exc.retry_after, agent=self.name, repo_did=repo_did)
        except XrpcError as exc:
            return result_from_xrpc_error(exc, agent=self.name, repo_did=repo_did)
        except AtprotoError as exc:
            return result_from_transport_error(exc, agent=self.name, repo_did=repo_did)
        except Exception as exc:  # noqa: BLE001 - the contract: callers always get a BlueskyResult
            # Only the class name is logged: exception text could carry server-controlled content.
            logger.error("unexpected error while posting to Bluesky: %s", type(exc).__name__)
            return BlueskyResult.failure(reason=Reason.INTERNAL_ERROR, agent=self.name, repo_did=repo_did,
                                         error="Something went wrong while posting to Bluesky.")

    # --- the write path, shared -----------------------------------------------------------------

    def _write_post(self, *, session: PdsSession, record: dict[str, Any], rkey: str | None) -> BlueskyResult:
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

    def _settle_from_existing(self, *, session: PdsSession, record: dict[str, Any],
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
