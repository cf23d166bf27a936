from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bluesky.services import BlueskyOAuthService


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
        summary = BlueskyOAuthService.get_identity_for_member(member=request.user)
        if summary is None:
            return Response({"connected": False})
        return Response({"connected": summary.status == "connected", **IdentitySerializer(summary).data})
