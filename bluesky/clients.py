"""The process-wide AT Protocol clients, built from settings: one pooled SSRF-safe HTTP client, one
identity resolver, one metadata cache, the OAuth client with our client id, redirect URI and keys.
Rebuilt when settings change (tests)."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static
from django.urls import reverse

from bluesky import keys
from bluesky.atproto import (
    AtprotoError,
    ClientConfig,
    DpopNonceStore,
    IdentityResolver,
    MetadataResolver,
    OAuthClient,
    SafeHttpClient,
    confidential_client_metadata,
    loopback_client_id,
)
from bluesky.atproto.repo import KeyUnavailable, signing_key_in

CLIENT_METADATA_PATH = "/bluesky/client-metadata.json"
JWKS_PATH = "/bluesky/jwks.json"
CALLBACK_PATH = "/bluesky/callback/"


@lru_cache(maxsize=1)
def safe_http_client() -> SafeHttpClient:
    return SafeHttpClient(allow_insecure=settings.ATPROTO_ALLOW_INSECURE_HOSTS)


@lru_cache(maxsize=1)
def identity_resolver() -> IdentityResolver:
    return IdentityResolver(http=safe_http_client(), plc_url=settings.ATPROTO_PLC_URL,
                            handle_resolver_url=settings.ATPROTO_HANDLE_RESOLVER_URL or None)


def repo_signing_key(did: str, fresh: bool) -> str:
    """The current atproto signing key (multibase) of a repository, from its DID document through the
    identity resolver (SSRF-safe, cached 10 minutes; `fresh` fetches again). For CommitVerifier."""
    try:
        document = identity_resolver().resolve_did(did, fresh=fresh)
    except AtprotoError as exc:
        raise KeyUnavailable(exc.code) from exc
    return signing_key_in(document, did)


@lru_cache(maxsize=1)
def metadata_resolver() -> MetadataResolver:
    return MetadataResolver(http=safe_http_client())


def is_confidential_client() -> bool:
    return settings.ELONARA_PUBLIC_URL.startswith("https://")


def redirect_uri() -> str:
    if is_confidential_client():
        return settings.ELONARA_PUBLIC_URL + CALLBACK_PATH
    # The loopback client must name 127.0.0.1, never "localhost", in its redirect.
    parts = urlsplit(settings.ELONARA_PUBLIC_URL)
    return f"http://127.0.0.1:{parts.port or 80}{CALLBACK_PATH}"


def client_id() -> str:
    if is_confidential_client():
        return settings.ELONARA_PUBLIC_URL + CLIENT_METADATA_PATH
    return loopback_client_id(redirect_uri=redirect_uri(), scope=settings.BLUESKY_OAUTH_SCOPE)


def client_metadata_document() -> dict:
    # Authorization servers show the name, logo, terms and privacy policy on their consent screen.
    origin = settings.ELONARA_PUBLIC_URL
    return confidential_client_metadata(
        client_id=client_id(), redirect_uris=[redirect_uri()], scope=settings.BLUESKY_OAUTH_SCOPE,
        jwks_uri=origin + JWKS_PATH, client_name="Elonara", client_uri=origin,
        logo_uri=origin + static("img/elonara-logo.png"), tos_uri=origin + reverse("terms"),
        policy_uri=origin + reverse("privacy"),
    )


@lru_cache(maxsize=1)
def auth_server_nonces() -> DpopNonceStore:
    """Authorization-server nonces, shared by every flow of this process (one origin, one nonce)."""
    return DpopNonceStore()


def oauth_client() -> OAuthClient:
    """Cheap to build: the expensive parts (pool, caches, nonces, keys) are shared."""
    keyset = keys.client_keyset() if is_confidential_client() else None
    config = ClientConfig(client_id=client_id(), redirect_uri=redirect_uri(), scope=settings.BLUESKY_OAUTH_SCOPE,
                          keyset=keyset)
    return OAuthClient(config, http=safe_http_client(), resolver=identity_resolver(), metadata=metadata_resolver(),
                       nonce_store=auth_server_nonces())


def reset() -> None:
    for cached in (safe_http_client, identity_resolver, metadata_resolver, auth_server_nonces):
        cached.cache_clear()
    keys.client_keyset_forget()


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs) -> None:
    if setting.startswith(("ATPROTO_", "BLUESKY_", "ELONARA_PUBLIC_URL")):
        reset()
