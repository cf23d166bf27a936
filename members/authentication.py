"""DRF adapters for Elonara API tokens: authentication, per-endpoint permission, rate limit."""

from __future__ import annotations

from rest_framework import authentication, exceptions, permissions, throttling

from core.ratelimit import Limit, RateLimitedError, rate_limit_hit, rate_limit_keys
from members.api_tokens import ApiTokenError, api_access_token_verify


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <access token>`; `request.auth` holds its claims."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            return api_access_token_verify(header[1].decode("ascii", "replace"))
        except ApiTokenError as exc:
            raise exceptions.AuthenticationFailed(exc.message) from exc

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) with a challenge when a token is missing or refused.
        return f'{self.keyword} realm="elonara-api"'


class TokenPermission(permissions.BasePermission):
    """With an API token, the endpoint's `token_permission` must be among the token's permissions.
    An endpoint that names none is closed to tokens (a safe default); a browser session may use
    every endpoint its member may."""

    message = "This API token does not have the permission this endpoint needs."

    def has_permission(self, request, view) -> bool:
        claims = request.auth if isinstance(request.auth, dict) else None
        if claims is None:
            return True
        needed = getattr(view, "token_permission", None)  # declared per view class, absent = closed
        return bool(needed) and needed in claims.get("permissions", [])


class ApiRateThrottle(throttling.BaseThrottle):
    """Per member and per address, shared by every process (429 + Retry-After)."""

    limit_name = "api"

    def allow_request(self, request, view) -> bool:
        self._retry_after = None
        try:
            rate_limit_hit(limit=Limit.named(self.limit_name), keys=rate_limit_keys(request))
        except RateLimitedError as exc:
            self._retry_after = exc.retry_after_seconds
            return False
        return True

    def wait(self):
        return self._retry_after
