"""DRF endpoints: graph pages (with "already invited" marks), preview, bulk creation, batch status.

Errors map in one place (core.api): typed service errors become 4xx JSON with a stable code.
"""

from __future__ import annotations

from functools import partial
from typing import cast

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bluesky.graph import BlueskyGraphService, GraphKind
from core.api import json_body, json_response
from core.api_schemas import ERROR
from core.page_cache import PAGE_CACHE_SECONDS, page_part_get
from core.ratelimit import rate_limit_request
from core.requests import MemberApiRequest
from invitations import limits, selectors, services, targets
from invitations.models import BATCH_PROGRESS, InvitationBatch
from invitations.views import get_target


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


KIND = OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=["event", "community"],
                        description="What you invite to.")
# The languages a post may be written in (settings.LANGUAGES codes: "pt-br" is posted as "pt-BR").
LANGUAGE_CHOICES = settings.LANGUAGES  # the same choice set as events' language: one enum in the API description
TARGET = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The event's or community's id.")


class GraphProfileSerializer(serializers.Serializer):
    did = serializers.CharField()
    handle = serializers.CharField()
    display_name = serializers.CharField()
    avatar_url = serializers.CharField(help_text="https only, or empty.")
    follows_you = serializers.BooleanField(allow_null=True, help_text="null: Bluesky did not say.")
    invited = serializers.CharField(help_text="Their invitation's status when already invited, else empty.")
    invitable = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why they cannot be invited (a code), empty when they can.")
    reason_text = serializers.CharField()


class GraphPageSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["followers", "follows"])
    profiles = GraphProfileSerializer(many=True)
    cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next page; null at the end.")
    remaining_today = serializers.IntegerField(help_text="How many more people you may invite today.")


class PreviewAccountSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="`oauth`, `member` (your app password) or `relay`.")
    handle = serializers.CharField(allow_null=True, required=False)


class PreviewResultSerializer(serializers.Serializer):
    text = serializers.CharField()
    facets = serializers.ListField(child=serializers.DictField(), help_text="app.bsky.richtext.facet objects.")
    langs = serializers.ListField(child=serializers.CharField())
    embed = serializers.DictField(allow_null=True, help_text="The link card (app.bsky.embed.external).")
    card_image = serializers.CharField(allow_null=True)
    account = PreviewAccountSerializer(allow_null=True, help_text="Whose account posts it; null: none can.")
    uses_your_message = serializers.BooleanField(help_text="False from the relay: Elonara's own wording is sent.")


class BulkCreateResultSerializer(serializers.Serializer):
    batch = serializers.IntegerField(allow_null=True, help_text="null when nobody could be invited.")
    created = serializers.IntegerField()
    skipped = serializers.DictField(child=serializers.CharField(), help_text="DID -> why not invited (a code).")
    skipped_text = serializers.DictField(child=serializers.CharField(), help_text="DID -> why, in words.")
    progress_url = serializers.CharField(allow_null=True)
    status_url = serializers.CharField(allow_null=True, help_text="This batch's progress in the API.")


class BatchFailureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    handle = serializers.CharField()
    reason = serializers.CharField()
    code = serializers.CharField()
    retryable = serializers.BooleanField()


class BatchProgressSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    total = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    waiting = serializers.IntegerField()
    accepted = serializers.IntegerField()
    done = serializers.BooleanField(help_text="Nothing left waiting to be sent.")
    failures = BatchFailureSerializer(many=True, help_text="The first 200 failed invitations, oldest first.")


def _hosted_target(request: MemberApiRequest, kind: str, pk: int):
    target = get_target(kind, pk)
    if not targets.target_is_hosted_by(target, member=request.user):
        raise Http404("Not the host")
    return target


class GraphPageView(APIView):
    """A page of your Bluesky followers (or the people you follow), each marked with whether they can
    be invited and why not. Only the host of the event or community may call it."""
    token_permission = "invitations"

    @extend_schema(parameters=[
        KIND, TARGET, OpenApiParameter("graph", str, OpenApiParameter.PATH, enum=["followers", "follows"]),
        OpenApiParameter("cursor", str, description="From the previous page."),
        OpenApiParameter("limit", int, description="Page size (at most 100)."),
    ], responses={200: GraphPageSerializer,
                  409: OpenApiResponse(ERROR, description="No Bluesky account connected (`not_connected`)."),
                  502: OpenApiResponse(ERROR, description="Bluesky did not answer (`upstream`).")})
    def get(self, request: MemberApiRequest, kind: str, pk: int, graph: str) -> Response:
        target = _hosted_target(request, kind, pk)
        # get_page refuses any other value with a clear error.
        page = BlueskyGraphService().get_page(member=request.user, kind=cast(GraphKind, graph),
                                               cursor=request.query_params.get("cursor") or None,
                                               limit=_int(request.query_params.get("limit"), 100))
        invited = selectors.invited_dids(target=target)
        data = page.as_dict()
        marks = limits.picker_marks(host=request.user, profiles=page.profiles)
        # Blocks either way, from the App View through the host's session: shown with their reason.
        marks.update(services.invitation_respect_refusals(host=request.user, dids=[p.did for p in page.profiles],
                                                          strict=False))
        for profile in data["profiles"]:
            profile["invited"] = invited.get(profile["did"], "")
            # Why this person cannot be invited ("" = they can): the server checks it all again.
            reason = "already_invited" if profile["invited"] else marks.get(profile["did"], "")
            profile["invitable"] = not reason
            profile["reason"] = reason
            profile["reason_text"] = str(limits.SKIP_REASONS.get(reason, ""))
        data["remaining_today"] = limits.invitation_daily_remaining(host=request.user)
        return Response(data)


class PreviewSerializer(serializers.Serializer):
    message = serializers.CharField(allow_blank=True, max_length=3000, required=False, default="")
    language = serializers.ChoiceField(choices=LANGUAGE_CHOICES, required=False, default="", allow_blank=True,
                                       help_text="The post's language (its `langs`); empty: yours.")
    did = serializers.CharField(max_length=2048)
    handle = serializers.CharField(max_length=253)


class PreviewView(APIView):
    """The exact post one invitation would be, and whose account would post it. Sends nothing."""
    token_permission = "invitations"

    @extend_schema(parameters=[KIND, TARGET], request=PreviewSerializer, responses={200: PreviewResultSerializer})
    def post(self, request: MemberApiRequest, kind: str, pk: int) -> Response:
        target = _hosted_target(request, kind, pk)
        ser = PreviewSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        preview = services.invitation_preview(
            host=request.user, target=target, message_template=ser.validated_data["message"],
            recipient_did=ser.validated_data["did"], recipient_handle=ser.validated_data["handle"],
            language=ser.validated_data["language"],
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
    language = serializers.ChoiceField(choices=LANGUAGE_CHOICES, required=False, default="", allow_blank=True,
                                       help_text="The posts' language (their `langs`, the default wording); "
                                                 "empty: yours.")
    dids = serializers.ListField(child=serializers.CharField(max_length=2048), min_length=1, max_length=5000)


class BulkCreateView(APIView):
    """Invite these DIDs (from your graph pages) to the event or community. Each invitation is a post
    sent later by a worker, paced to Bluesky's limits; follow them with `status_url`. People who
    cannot be invited are listed in `skipped` with the reason."""
    token_permission = "invitations"

    @extend_schema(parameters=[KIND, TARGET], request=BulkCreateSerializer, responses={
        201: BulkCreateResultSerializer,
        200: OpenApiResponse(BulkCreateResultSerializer, description="Nobody could be invited (see `skipped`)."),
        409: OpenApiResponse(ERROR, description="No Bluesky account connected (`not_connected`)."),
        502: OpenApiResponse(ERROR, description="Bluesky did not answer (`upstream`)."),
    })
    def post(self, request: MemberApiRequest, kind: str, pk: int) -> Response:
        target = _hosted_target(request, kind, pk)
        ser = BulkCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        rate_limit_request(request, "invitations")
        result = services.invitation_bulk_create(
            host=request.user, target=target, recipient_dids=ser.validated_data["dids"],
            message_template=ser.validated_data["message"], language=ser.validated_data["language"],
        )
        batch = result.batch
        return Response(
            {
                "batch": batch.pk if batch else None,
                "created": result.created_count,
                "skipped": result.skipped,
                "skipped_text": {did: str(limits.SKIP_REASONS.get(code, code)) for did, code in result.skipped.items()},
                "progress_url": reverse("invitations:progress", args=[batch.pk]) if batch else None,
                "status_url": reverse("invitations-api-batch", args=[batch.pk]) if batch else None,
            },
            status=status.HTTP_201_CREATED if batch else status.HTTP_200_OK,
        )


class BatchStatusView(APIView):
    """An invitation batch's progress: sent, failed and waiting counts, and the failures."""
    token_permission = "invitations"

    @extend_schema(responses={200: BatchProgressSerializer})
    def get(self, request: Request, batch_id: int) -> HttpResponse:
        # Kept with its host until an invitation of the batch changes: one cache round trip.
        kept = page_part_get(BATCH_PROGRESS, batch_id, partial(_batch_progress_build, batch_id), part="api")
        if kept is None or kept[0] != request.user.pk:
            raise Http404("No such invitation batch of yours.")
        return json_response(kept[1])


def _batch_progress_build(batch_id: int) -> tuple[tuple[int, bytes] | None, int]:
    """(its host, its progress as JSON)."""
    batch = InvitationBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        return None, 0
    return (batch.host_id, json_body(selectors.batch_progress(batch=batch))), PAGE_CACHE_SECONDS
