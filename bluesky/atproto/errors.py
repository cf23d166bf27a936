"""The exception tree of the AT Protocol client, documented in one place.

Every error carries `.code` (stable, for programs) and `.message` (plain words a member may be
shown). Messages never contain tokens, codes, verifiers, keys or response bodies.

    AtprotoError
    ├── UnsafeURLError            a URL we refuse to fetch (scheme, host, private address)
    ├── TransportError            network failure, timeout, redirect, oversized or non-JSON reply
    ├── IdentityResolutionError   handle/DID syntax, resolution, or two-way verification failed
    ├── MetadataError             protected-resource / authorization-server metadata unusable
    ├── OAuthFlowError            state, iss, sub, scope or issuer verification failed
    │   └── ClientKeyMissingError a session's client key id is no longer in our keyset
    ├── OAuthTokenError           the authorization server answered an OAuth error (.error)
    └── XrpcError                 a PDS/XRPC call failed (.status, .error, .retry_after)
        └── InvalidTokenError     401 invalid_token: refresh once, then reconnect
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def gettext_noop(message: str) -> str:
    """Marks a message for the translation catalogue (makemessages knows this name) and returns it
    unchanged: this package is Django-free, so the Django side translates a message where it shows
    it (`bluesky.views`)."""
    return message


class AtprotoError(Exception):
    code = "atproto_error"
    default_message = gettext_noop("Something went wrong talking to the Bluesky network.")

    def __init__(self, message: str | None = None, *, code: str | None = None, **fields: Any) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        self.fields = fields
        super().__init__(self.message)


class UnsafeURLError(AtprotoError):
    code = "unsafe_url"
    default_message = gettext_noop("That address cannot be used.")


class TransportError(AtprotoError):
    code = "transport"
    default_message = gettext_noop("The server could not be reached or gave an unusable answer.")

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None,
                 retryable: bool = True, **fields: Any) -> None:
        super().__init__(message, code=code, **fields)
        self.status = status
        self.retryable = retryable


class IdentityResolutionError(AtprotoError):
    code = "identity"
    default_message = gettext_noop("That Bluesky account could not be found.")


class MetadataError(AtprotoError):
    code = "metadata"
    default_message = gettext_noop("That server does not support the sign-in Elonara needs.")


class OAuthFlowError(AtprotoError):
    code = "oauth_flow"
    default_message = gettext_noop("The sign-in could not be completed. Please try again.")


class ClientKeyMissingError(OAuthFlowError):
    """The session was bound to a client key that is no longer in the keyset. The authorization
    server only accepts that key for this session, so it cannot be refreshed: reconnect."""

    code = "client_key_missing"
    default_message = gettext_noop("This Bluesky connection must be renewed. Please connect your account again.")


class OAuthTokenError(AtprotoError):
    code = "oauth_token"
    default_message = gettext_noop("The authorization server refused the request.")

    def __init__(self, message: str | None = None, *, error: str = "", status: int | None = None,
                 **fields: Any) -> None:
        super().__init__(message or f"The authorization server refused the request ({error or status}).", **fields)
        self.error = error
        self.status = status


class XrpcError(AtprotoError):
    code = "xrpc"

    def __init__(self, *, status: int, error: str = "", server_message: str = "",
                 retry_after: datetime | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"The Bluesky server answered {status}{f' ({error})' if error else ''}.")
        self.status = status
        self.error = error
        # The server's own words; kept apart from .message since they are not written by us.
        self.server_message = server_message[:300]
        self.retry_after = retry_after
        self.headers = headers or {}


class InvalidTokenError(XrpcError):
    code = "invalid_token"
