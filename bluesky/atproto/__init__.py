"""A Django-free AT Protocol OAuth client: identity, discovery, DPoP, PAR/token/refresh/revoke, XRPC.

The public API is re-exported here; modules are implementation detail. Errors: see `errors`.
"""

from bluesky.atproto.client_metadata import confidential_client_metadata, loopback_client_id
from bluesky.atproto.dpop import DpopAuth, DpopKey, DpopNonceStore
from bluesky.atproto.errors import (
    AtprotoError,
    ClientKeyMissingError,
    IdentityResolutionError,
    InvalidTokenError,
    MetadataError,
    OAuthFlowError,
    OAuthTokenError,
    TransportError,
    UnsafeURLError,
    XrpcError,
)
from bluesky.atproto.http import SafeHttpClient
from bluesky.atproto.identity import (
    IdentityResolver,
    ResolvedIdentity,
    is_valid_did,
    is_valid_handle,
    normalize_handle,
    normalize_identifier,
)
from bluesky.atproto.keys import ClientKey, ClientKeyset
from bluesky.atproto.metadata import AuthServerMetadata, MetadataResolver
from bluesky.atproto.oauth import ClientConfig, OAuthClient, PendingAuthorization, TokenSet, callback_error
from bluesky.atproto.xrpc import PdsClient

__all__ = [
    "AtprotoError", "AuthServerMetadata", "ClientConfig", "ClientKey", "ClientKeyMissingError", "ClientKeyset",
    "DpopAuth", "DpopKey", "DpopNonceStore", "IdentityResolutionError", "IdentityResolver", "InvalidTokenError",
    "MetadataError", "MetadataResolver", "OAuthClient", "OAuthFlowError", "OAuthTokenError", "PdsClient",
    "PendingAuthorization", "ResolvedIdentity", "SafeHttpClient", "TokenSet", "TransportError", "UnsafeURLError",
    "XrpcError", "callback_error", "confidential_client_metadata", "is_valid_did", "is_valid_handle",
    "loopback_client_id", "normalize_handle", "normalize_identifier",
]
