"""The API's OpenAPI 3 description (drf-spectacular): what /api/schema/ serves and /api/docs/ shows.

Every operation says which API-token permission it needs, and lists the answers every endpoint
can give besides its own (401, 403, 429 with Retry-After), so the schema alone is enough to call
the API. Only the versioned paths (/api/v1/) are described; the unversioned /api/ aliases answer
the same way (see API_DESCRIPTION).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse

from core.api_schemas import DETAIL, ERROR, VALIDATION

API_VERSION = "v1"
API_PREFIX = f"/api/{API_VERSION}/"


def api_description() -> str:
    limits = settings.RATE_LIMITS
    api_count, api_seconds = limits["api"]
    token_count, token_seconds = limits["api_token"]
    inv_count, inv_seconds = limits["invitations"]
    return f"""
Elonara's HTTP API: events and answers, your Bluesky connection, and invitations to your Bluesky
followers. JSON in, JSON out.

## Version
This is version 1, under `/api/v1/`. The same endpoints under `/api/` (without a version) answer as
they did before versions existed (the event list there is the first 100 events, unpaginated, as
`{{"events": [...]}}`); new code should use `/api/v1/`. A change that would break a client comes
as a new version beside this one.

## Authentication
Either the browser session of a signed-in member (the web pages use it; unsafe methods then need
the CSRF token), or an **Elonara API token**:

1. On your profile page, create an API token with the permissions it needs. Its secret
   (`elo_...`) is shown once.
2. Exchange it for an access token (valid 15 minutes):
   `POST /api/v1/auth/token/` with `{{"api_token": "elo_..."}}` answers
   `{{"access_token": "...", "token_type": "Bearer", "expires_in": 900}}`.
3. Send `Authorization: Bearer <access_token>` with each call. When it expires, exchange again.
   A revoked API token stops working at once, access tokens included.

Access tokens are JWTs signed by Elonara (fixed issuer and audience; `member_id`, the member's
DID and the permissions as claims). Bluesky tokens never leave the server.

## Permissions
Each operation below names the permission an API token needs for it:
`read` (events, your Bluesky connection), `events` (answering events), `invitations` (picking,
previewing, sending invitations and following their progress). A token without it gets `403`.
A browser session may use every endpoint its member may.

## Rate limits
Per member and per client address, shared by every server: {api_count} calls per {api_seconds} s
to the API, {token_count} token exchanges per {token_seconds} s, {inv_count} invitation batches per
{inv_seconds} s. Over the limit: `429` with a `Retry-After` header (seconds).

## Pagination
Lists are paginated with a cursor: follow `next` (and `previous`) as given; `limit` sets the page
size. The order is stable (events: by start time, then id), so pages neither skip nor repeat
events while new ones are added.

## Errors
Elonara's own refusals are `{{"error": "<code>", "message": "..."}}`; DRF's (not signed in, no
permission, not found, throttled) are `{{"detail": "..."}}`; invalid input is
`{{"<field>": ["message", ...]}}`.
"""


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "members.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        scheme = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer",
                                                     bearer_format="JWT")
        scheme["description"] = ("An access token from `POST /api/v1/auth/token/` (15 minutes), obtained with "
                                 "an Elonara API token made on your profile page.")
        return scheme


class ElonaraAutoSchema(AutoSchema):
    """Adds the token permission to each operation's description and the refusals every
    authenticated endpoint can give to its documented answers."""

    def get_description(self) -> str:
        text = super().get_description() or ""
        needed = getattr(self.view, "token_permission", None)
        if needed:
            text += f"\n\nAPI-token permission: `{needed}`."
        return text.strip()

    def get_tags(self) -> list[str]:
        path = self.path.removeprefix(API_PREFIX)
        return [path.split("/", 1)[0] or "api"]

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        extra: dict[str, Any] = {
            "429": OpenApiResponse({"anyOf": [DETAIL, ERROR]}, description="Over a rate limit: see `Retry-After`."),
        }
        if self.method in ("POST", "PUT", "PATCH"):
            extra["400"] = OpenApiResponse({"anyOf": [VALIDATION, ERROR]}, description="Invalid input.")
        if getattr(self.view, "authentication_classes", None) != []:
            extra["401"] = OpenApiResponse(DETAIL, description="No credentials, or refused ones.")
            extra["403"] = OpenApiResponse({"anyOf": [DETAIL, ERROR]},
                                           description="Not allowed: the API token lacks this endpoint's permission.")
        if "{" in self.path:
            extra["404"] = OpenApiResponse(DETAIL, description="Not found (or not yours).")
        for code, response in extra.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses

    def _get_response_headers_for_code(self, status_code, direction="response") -> dict[str, Any]:
        headers = super()._get_response_headers_for_code(status_code, direction)
        if str(status_code) == "429":
            headers["Retry-After"] = {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        return headers


def only_versioned_paths(endpoints, **kwargs):
    """drf-spectacular preprocessing hook: describe /api/v1/ (the unversioned aliases answer alike)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]
