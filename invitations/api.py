"""DRF endpoints: graph pages (with "already invited" marks), preview, bulk creation, batch status.

Errors map in one place (core.api): typed service errors become 4xx JSON with a stable code.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bluesky.graph import BlueskyGraphService
from core.ratelimit import rate_limit_request
from invitations import selectors, services, targets
from invitations.models import InvitationBatch
from invitations.views import get_target


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def _hosted_target(request: Request, kind: str, pk: int):
    target = get_target(kind, pk)
    if not targets.target_is_hosted_by(target, member=request.user):
        raise Http404("Not the host")
    return target


class GraphPageView(APIView):
    """GET /api/invitations/<kind>/<pk>/graph/<followers|follows>/?cursor=..."""
    token_permission = "invitations"


    def get(self, request: Request, kind: str, pk: int, graph: str) -> Response:
        target = _hosted_target(request, kind, pk)
        page = BlueskyGraphService().get_page(member=request.user, kind=graph,
                                               cursor=request.query_params.get("cursor") or None,
                                               limit=_int(request.query_params.get("limit"), 100))
        invited = selectors.invited_dids(target=target)
        data = page.as_dict()
        marks = services.picker_marks(host=request.user, profiles=page.profiles)
        for profile in data["profiles"]:
            profile["invited"] = invited.get(profile["did"], "")
            # Why this person cannot be invited ("" = they can): the server checks it all again.
            reason = "already_invited" if profile["invited"] else marks.get(profile["did"], "")
            profile["invitable"] = not reason
            profile["reason"] = reason
            profile["reason_text"] = services.SKIP_REASONS.get(reason, "")
        data["remaining_today"] = services.invitation_daily_remaining(host=request.user)
        return Response(data)


class PreviewSerializer(serializers.Serializer):
    message = serializers.CharField(allow_blank=True, max_length=3000, required=False, default="")
    did = serializers.CharField(max_length=2048)
    handle = serializers.CharField(max_length=253)


class PreviewView(APIView):
    token_permission = "invitations"

    def post(self, request: Request, kind: str, pk: int) -> Response:
        target = _hosted_target(request, kind, pk)
        ser = PreviewSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        preview = services.invitation_preview(
            host=request.user, target=target, message_template=ser.validated_data["message"],
            recipient_did=ser.validated_data["did"], recipient_handle=ser.validated_data["handle"],
        )
        post, account = preview.post, preview.account
        return Response({
            "text": post.text, "facets": post.facets, "langs": post.langs, "embed": post.embed,
            "card_image": target.image.url if target.image else None,
            # Whose account posts it; from the relay, Elonara's own wording replaces the message.
            "account": {"kind": account.kind, "handle": account.handle} if account else None,
            "uses_your_message": bool(account and account.kind != "relay"),
        })


class BulkCreateSerializer(serializers.Serializer):
    message = serializers.CharField(allow_blank=True, max_length=3000, required=False, default="")
    dids = serializers.ListField(child=serializers.CharField(max_length=2048), min_length=1, max_length=5000)


class BulkCreateView(APIView):
    """POST /api/invitations/<kind>/<pk>/ {"dids": [...], "message": "..."}"""
    token_permission = "invitations"


    def post(self, request: Request, kind: str, pk: int) -> Response:
        target = _hosted_target(request, kind, pk)
        ser = BulkCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        rate_limit_request(request, "invitations")
        result = services.invitation_bulk_create(
            host=request.user, target=target, recipient_dids=ser.validated_data["dids"],
            message_template=ser.validated_data["message"],
        )
        batch = result.batch
        return Response(
            {
                "batch": batch.pk if batch else None,
                "created": result.created_count,
                "skipped": result.skipped,
                "skipped_text": {did: services.SKIP_REASONS.get(code, code) for did, code in result.skipped.items()},
                "progress_url": reverse("invitations:progress", args=[batch.pk]) if batch else None,
                "status_url": reverse("invitations-api-batch", args=[batch.pk]) if batch else None,
            },
            status=status.HTTP_201_CREATED if batch else status.HTTP_200_OK,
        )


class BatchStatusView(APIView):
    """GET /api/invitations/batches/<id>/ -> sent / failed / waiting counts and failures."""
    token_permission = "invitations"


    def get(self, request: Request, batch_id: int) -> Response:
        batch = get_object_or_404(InvitationBatch, pk=batch_id, host=request.user)
        return Response(selectors.batch_progress(batch=batch))
