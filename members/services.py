"""Writes for members."""

import hashlib
from functools import partial

from django.db import transaction
from django.http import HttpRequest

from bluesky import services as bluesky_services
from bluesky.services import BlueskyOAuthService
from core.client_address import client_address
from core.i18n import supported_language
from core.ratelimit import Limit, rate_limit_hit, rate_limit_release
from members.models import Member
from members.signals import email_to_confirm, member_deleting


def _login_keys(request: HttpRequest, username: str) -> list[str]:
    # Per address (one visitor trying many accounts) and per username tried (many addresses trying
    # one account). The username counts whether or not such a member exists: the answer must not
    # tell which usernames are real.
    tried = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return [f"ip:{client_address(request)}", f"username:{tried}"]


def login_attempt_begin(*, request: HttpRequest, username: str) -> list[str]:
    """Count this password login as failed before it is tried, and raise `RateLimitedError` when
    this address or this username is over its limit. Counting first (not checking first and
    counting after) keeps parallel guesses from all passing the check; a login that succeeds
    gives its count back with `login_attempt_succeeded`. Returns what to give back."""
    return rate_limit_hit(limit=Limit.named("login"), keys=_login_keys(request, username))


def login_attempt_succeeded(*, counted: list[str]) -> None:
    """Only failed logins count against the limit: the right password takes its count back."""
    rate_limit_release(counted)


@transaction.atomic
def member_update_profile(*, member: Member, display_name: str, email: str, bio: str,
                          language: str | None = None) -> Member:
    """Save the profile. A new email address gets a confirmation link; until it is confirmed no
    notification goes there (the old address's confirmation does not carry over). `language`:
    None keeps the one set (empty: follow the page's menu or the browser)."""
    # From the database: a bound ModelForm has already copied the new value onto `member`.
    stored = Member.objects.filter(pk=member.pk).values_list("email", flat=True).first() or ""
    email_changed = email.strip().lower() != stored.lower()
    member.display_name = display_name.strip()
    member.email = email.strip()
    member.bio = bio.strip()
    fields = ["display_name", "email", "bio"]
    if language is not None:
        member.language = supported_language(language) or ""
        fields.append("language")
    member.save(update_fields=fields)
    if email_changed and member.email:
        # The new address gets a confirmation link (the old confirmation names the old address).
        member_email_to_confirm(member=member)
    return member


def member_email_to_confirm(*, member: Member) -> None:
    """Once the transaction commits, ask for the member's address to be confirmed (sign-up, a new
    address): notifications queues the link."""
    transaction.on_commit(partial(email_to_confirm.send, sender=Member, member=member))


def member_language_set(*, member: Member, language: str) -> str:
    """The language Elonara speaks to the member in (pages and mail); one it does not speak
    clears the setting. Returns what was kept."""
    member.language = supported_language(language) or ""
    member.save(update_fields=["language"])
    return member.language


def member_delete(*, member: Member) -> None:
    """Delete a member and everything that is theirs.

    The Bluesky session is revoked at the member's server and the app-password session ended
    there first (network calls, outside any transaction); then, in one transaction, the events
    they host and communities they created go (with their RSVPs, memberships and invitations),
    and the member row with everything that hangs off it: identity, DPoP key, app password,
    sign-in link, API tokens, calendar feed, RSVPs, memberships, sent invitations, pending
    sign-ins. Posts already on Bluesky are the member's own and stay there.

    Their cover files are deleted from storage once the transaction commits (a rolled back
    deletion keeps them, and the rows pointing at them).
    """
    BlueskyOAuthService.disconnect(member=member)
    bluesky_services.member_app_password_remove(member=member)
    with transaction.atomic():
        # What other apps keep of theirs goes first, in this transaction (elonara: the events they
        # host and communities they made, which would otherwise hold the row).
        member_deleting.send(sender=Member, member=member)
        member.delete()
