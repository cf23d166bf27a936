from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bluesky.selectors import identity_get_for_member


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


class IdentityView(APIView):
    token_permission = "read"

    def get(self, request):
        summary = identity_get_for_member(member=request.user)
        if summary is None:
            return Response({"connected": False})
        return Response({"connected": summary.status == "connected", **IdentitySerializer(summary).data})
