"""Error tracking (opt-in with SENTRY_DSN) and the scrubbing that runs before anything leaves.

Sentry events carry the request (body, query, headers, cookies), `extra`, breadcrumbs (log lines)
and the local variables of every frame, and the frames of a failing Bluesky sign-in hold exactly
what must never leave: PKCE verifiers, DPoP private keys, client assertions, tokens. So every
event, transaction and breadcrumb is walked in full here, and a value is replaced when its key
names a secret or when the value looks like one (a JWT, a PDS token or code, a private key, an
app password), wherever it sits. sentry-sdk's own EventScrubber runs as well, with our key names
added; this module does not rely on it.

No Django imports: `sentry_init` runs from settings, before apps load.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

FILTERED = "[Filtered]"

# Compared after lower-casing and turning "-" into "_" (so "DPoP", "Set-Cookie", "accessJwt" match).
SECRET_KEYS = frozenset({
    "access_token", "refresh_token", "id_token", "token", "code", "code_verifier", "verifier", "pkce_verifier",
    "app_password", "password", "passwd", "private_key", "dpop_private_jwk", "dpop_key", "private_jwk",
    "client_assertion", "accessjwt", "refreshjwt", "authorization", "dpop", "proxy_authorization",
    "cookie", "cookies", "set_cookie", "http_cookie", "http_authorization", "http_dpop", "sessionid",
    "csrftoken", "csrfmiddlewaretoken", "x_csrftoken", "http_x_csrftoken", "secret", "secret_key",
    "field_encryption_keys", "metrics_token", "bluesky_relay_app_password", "feeds_publisher_app_password",
    "api_key",
    # Ours: Elonara API secrets (the token exchange's body), the browser-binding secret of a sign-in,
    # calendar-feed tokens.
    "api_token", "browser_secret", "feed_token",
})
# Private parts of a JWK (EC: d; RSA: d, p, q, dp, dq, qi): scrubbed in any mapping that has "kty".
JWK_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

_SECRET_VALUE_PATTERNS = [
    # JWT / JWS compact serialisation (access tokens, DPoP proofs, client assertions): header is JSON
    # so base64url starts with "eyJ".
    re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    # The official PDS's opaque refresh tokens, authorization codes and PAR request ids.
    re.compile(r"\b(?:ref|cod|req|tok)-[0-9a-f]{16,}\b"),
    # PEM private keys.
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
    # Bluesky app passwords (xxxx-xxxx-xxxx-xxxx).
    re.compile(r"\b[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}\b"),
    # Fernet tokens (our encrypted columns).
    re.compile(r"gAAAAA[A-Za-z0-9_-]{40,}={0,2}"),
    # "Bearer x" / "DPoP x" anywhere in a string (a logged header, a repr).
    re.compile(r"(?i)\b(?:bearer|dpop)\s+[A-Za-z0-9._~+/=-]{16,}"),
    # Elonara API secrets (members.api_tokens: "elo_" + 43 url-safe characters).
    re.compile(r"\belo_[A-Za-z0-9_-]{16,}"),
    # Private calendar-feed addresses: the token in the path is a bearer secret.
    re.compile(r"(?<=/calendar/feed/)[A-Za-z0-9_-]{8,}"),
    # Links sent by mail, inside URLs: password reset tokens, address confirmations, unsubscribes.
    re.compile(r"(?<=/members/password-reset/)[A-Za-z0-9_-]+/(?!set-password/)[A-Za-z0-9_-]+"),
    re.compile(r"(?<=/notifications/confirm/)[A-Za-z0-9_:.-]+|(?<=/notifications/unsubscribe/)[A-Za-z0-9_:.-]+"),
    # Session keys inside cache keys (the Redis integration's breadcrumbs name every key it reads).
    re.compile(r"(?<=django\.contrib\.sessions\.cache)(?:d_db)?[A-Za-z0-9_-]+"),
]
# key=value inside URLs, query strings, form bodies and reprs: code=..., refresh_token=...
_SECRET_PAIR = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(access_token|refresh_token|id_token|code|code_verifier|app_password|password|"
    r"client_assertion|dpop_private_jwk|private_key|accessJwt|refreshJwt)"
    r"(\"?\s*[=:]\s*\"?)([^&\s\"',;)}]+)"
)
# A JSON-serialised private JWK inside a string ({"kty": "EC", ..., "d": "..."}).
_JWK_D_IN_TEXT = re.compile(r"(\"(?:d|p|q|dp|dq|qi)\"\s*:\s*\")[A-Za-z0-9_-]+(\")")


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SECRET_KEYS


def scrub_text(text: str) -> str:
    """The string with every secret-looking part replaced."""
    for pattern in _SECRET_VALUE_PATTERNS:
        text = pattern.sub(FILTERED, text)
    text = _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{FILTERED}", text)
    return _JWK_D_IN_TEXT.sub(lambda m: f"{m.group(1)}{FILTERED}{m.group(2)}", text)


def scrub(value: Any, *, secret_keys: frozenset[str] = SECRET_KEYS, _depth: int = 0) -> Any:
    """A copy of `value` (dicts, lists, strings) with secrets replaced by key name and by pattern."""
    if _depth > 50:
        return FILTERED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        is_jwk = "kty" in value
        out = {}
        for key, item in value.items():
            norm = key.lower().replace("-", "_") if isinstance(key, str) else key
            if norm in secret_keys or (is_jwk and norm in JWK_PRIVATE_MEMBERS):
                out[key] = FILTERED if item not in (None, "") else item
            else:
                out[key] = scrub(item, secret_keys=secret_keys, _depth=_depth + 1)
        return out
    if isinstance(value, list | tuple):
        items = [scrub(item, secret_keys=secret_keys, _depth=_depth + 1) for item in value]
        # Header lists come as [name, value] pairs.
        if len(items) == 2 and _is_secret_key(items[0]) and secret_keys is SECRET_KEYS:
            items[1] = FILTERED
        return items if isinstance(value, list) else tuple(items)
    return value


def scrub_event(event: Event, hint: Hint | None = None) -> Event:
    """before_send / before_send_transaction: the whole event, request, extra, breadcrumbs, frames."""
    return cast("Event", scrub(cast("dict[str, Any]", event)))


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    return scrub(crumb)


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float = 0.0,
                transport: Callable[..., Any] | type | None = None) -> None:
    """Turn error tracking on. `transport` replaces the network transport (tests capture payloads)."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        # No personal data: send_default_pii (deprecated in favour of data_collection) is left unset,
        # which is sentry-sdk's "off": no user name/e-mail/IP, no cookies, no auth headers.
        traces_sample_rate=traces_sample_rate,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(monitor_beat_tasks=False),
            LoggingIntegration(),
        ],
        event_scrubber=EventScrubber(denylist=[*DEFAULT_DENYLIST, *sorted(SECRET_KEYS)], recursive=True),
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        **options,
    )
