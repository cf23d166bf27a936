"""`OAuthBlueskyAgent`: posts with the member's own DPoP session (`OAuthPdsSession`: refresh,
nonces and proofs are handled there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from bluesky.agents.base import BlueskyAgentInterface, PostingAccount
from bluesky.agents.results import BlueskyResult
from bluesky.atproto.scopes import scope_allows_blob, scope_allows_posting, scope_allows_record_write
from bluesky.errors import NotConnectedError, Reason
from bluesky.models import BlueskyIdentity
from bluesky.sessions import OAuthPdsSession

if TYPE_CHECKING:
    from core.users import Member

REAUTHORIZE_MESSAGE = (
    "Your Bluesky connection does not allow Elonara to create posts. Please reauthorize Elonara on your "
    "Bluesky card and grant posting permission."
)


class OAuthBlueskyAgent(BlueskyAgentInterface[OAuthPdsSession]):
    name = "oauth"

    def posting_account(self, member: Member) -> PostingAccount | None:
        identity = BlueskyIdentity.objects.filter(member_id=member.pk).first()
        if identity is None:
            return None
        return PostingAccount(kind="oauth", key=f"did:{identity.did}", handle=identity.handle, loaded=identity)

    def _open_session(self, member: Member, posting: PostingAccount | None = None) -> OAuthPdsSession:
        loaded = posting.loaded if posting is not None else None
        if isinstance(loaded, BlueskyIdentity) and loaded.member_id == member.pk:
            # Posting needs a connected identity, as OAuthPdsSession.for_member asks.
            session = OAuthPdsSession(loaded) if loaded.status == BlueskyIdentity.Status.CONNECTED else None
        else:
            session = OAuthPdsSession.for_member(member)
        if session is None:
            raise NotConnectedError(_("Connect your Bluesky account to post invitations."))
        return session

    def _check_session(self, session: OAuthPdsSession) -> BlueskyResult | None:
        # Checked before any request: a grant without posting would only earn a 403.
        if scope_allows_posting(session.scope):
            return None
        return BlueskyResult.failure(reason=Reason.SCOPE_MISSING, error=REAUTHORIZE_MESSAGE, agent=self.name,
                                     repo_did=session.did)

    def _may_upload(self, session: OAuthPdsSession, mime_type: str) -> bool:
        return scope_allows_blob(session.scope, mime_type)

    def record_account(self, member: Member) -> PostingAccount | None:
        return self.posting_account(member)

    def _open_record_session(self, member: Member) -> OAuthPdsSession:
        session = OAuthPdsSession.for_member(member)
        if session is None:
            raise NotConnectedError(_("Connect your Bluesky account to publish to Bluesky."))
        return session

    def _check_record_write(self, session: OAuthPdsSession, collection: str, action: str) -> BlueskyResult | None:
        # An update may be a create (first write) and vice versa: ask for both.
        actions = ("create", "update") if action == "update" else (action,)
        if all(scope_allows_record_write(session.scope, collection, a) for a in actions):
            return None
        return BlueskyResult.failure(
            reason=Reason.SCOPE_MISSING, agent=self.name, repo_did=session.did,
            error=f"Your Bluesky connection does not allow Elonara to write {collection} records. "
            "Reauthorize Elonara on your Bluesky card to grant it.")
