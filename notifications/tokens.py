"""Signed links in mails: address confirmation (expiring) and one-click unsubscribe.

Both are signed with SECRET_KEY under their own salt, so neither can be made from the other. An
unsubscribe link only turns one kind of mail off for one member (it has to work from any mail
client, without signing in: RFC 8058), so it does not expire; a confirmation link proves the
mailbox and expires after EMAIL_CONFIRMATION_MAX_AGE.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

_CONFIRM_SALT = "notifications.confirm-address"
_UNSUBSCRIBE_SALT = "notifications.unsubscribe"


@dataclass(frozen=True)
class ConfirmClaim:
    member_id: int
    email: str


def confirmation_token(*, member_id: int, email: str) -> str:
    return signing.dumps({"m": member_id, "e": email.lower()}, salt=_CONFIRM_SALT, compress=True)


def confirmation_read(token: str) -> ConfirmClaim | None:
    """The member and address a link confirms, or None (tampered, malformed or expired)."""
    try:
        data = signing.loads(token, salt=_CONFIRM_SALT, max_age=settings.EMAIL_CONFIRMATION_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not isinstance(data, dict) or not isinstance(data.get("m"), int) or not isinstance(data.get("e"), str):
        return None
    return ConfirmClaim(member_id=data["m"], email=data["e"])


def unsubscribe_token(*, member_id: int, topic: str) -> str:
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign(f"{member_id}.{topic}")


def unsubscribe_read(token: str) -> tuple[int, str] | None:
    try:
        value = signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        return None
    member_id, _, topic = value.partition(".")
    if not member_id.isdigit():
        return None
    return int(member_id), topic
