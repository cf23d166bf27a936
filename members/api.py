"""POST /api/auth/token/: exchange an Elonara API token for a short-lived access token."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_schemas import ErrorSerializer
from members.api_tokens import api_access_token_issue
from members.authentication import ApiRateThrottle


class TokenExchangeThrottle(ApiRateThrottle):
    limit_name = "api_token"


class TokenExchangeSerializer(serializers.Serializer):
    api_token = serializers.CharField(max_length=200, trim_whitespace=True)


class AccessTokenSerializer(serializers.Serializer):
    access_token = serializers.CharField(help_text="Send as `Authorization: Bearer <access_token>`.")
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until it expires (900).")


class TokenExchangeView(APIView):
    """Exchange an Elonara API token (made on your profile page, `elo_...`) for an access token valid
    15 minutes, carrying the API token's permissions. No other credentials needed."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenExchangeThrottle]

    @extend_schema(request=TokenExchangeSerializer, auth=[], responses={
        200: AccessTokenSerializer,
        401: OpenApiResponse(ErrorSerializer, description="Unknown, revoked or malformed API token "
                                                          "(`invalid_token`, with a WWW-Authenticate challenge)."),
    })
    def post(self, request: Request) -> Response:
        data = TokenExchangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # ApiTokenError: 401 with its challenge (core.api).
        access_token, lifetime = api_access_token_issue(secret=data.validated_data["api_token"])
        return Response({"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime})
