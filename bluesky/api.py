from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from bluesky.services import BlueskyOAuthService
from core.api import kept_json_response
from core.page_cache import PAGE_CACHE_SECONDS, VIEWER


class IdentitySerializer(serializers.Serializer):
    # Explicit fields: no token, key or nonce can leak through a model serializer.
    did = serializers.CharField()
    handle = serializers.CharField()
    server_host = serializers.CharField()
    scope = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField()
    connected_at = serializers.DateTimeField()
    can_post = serializers.BooleanField()
    can_read_graph = serializers.BooleanField()
    # What this grant cannot do, in words (empty: everything Elonara asks for).
    missing_features = serializers.ListField(child=serializers.CharField())


class IdentityAnswerSerializer(serializers.Serializer):
    """`connected` only, when no Bluesky account was ever connected; otherwise every field."""

    connected = serializers.BooleanField()
    did = serializers.CharField(required=False)
    handle = serializers.CharField(required=False)
    server_host = serializers.CharField(required=False)
    scope = serializers.CharField(required=False)
    permissions = serializers.ListField(child=serializers.CharField(), required=False)
    status = serializers.CharField(required=False)
    connected_at = serializers.DateTimeField(required=False)
    can_post = serializers.BooleanField(required=False)
    can_read_graph = serializers.BooleanField(required=False)
    missing_features = serializers.ListField(child=serializers.CharField(), required=False)


class IdentityView(APIView):
    """Your Bluesky connection: which account, what it lets Elonara do, and what it cannot."""

    token_permission = "read"

    @extend_schema(responses={200: IdentityAnswerSerializer})
    def get(self, request):
        # Kept until the member's own state changes (their connection is part of it): one cache
        # round trip instead of a query.
        member = request.user
        return kept_json_response(VIEWER, member.pk, lambda: (_identity_answer(member), PAGE_CACHE_SECONDS),
                                  part="api-identity")


def _identity_answer(member) -> dict:
    summary = BlueskyOAuthService.get_identity_for_member(member=member)
    if summary is None:
        return {"connected": False}
    return {"connected": summary.status == "connected", **IdentitySerializer(summary).data}
