"""The API's OpenAPI schema (/api/schema/) is valid OpenAPI 3, its documentation page (/api/docs/)
works without the internet, and every documented operation answers as the schema says: each
answer's status is among the operation's documented ones and its body matches that schema."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from elonara import services as elonara_services
from elonara.checkin import rsvp_ticket_code
from elonara.models import EventSeries
from invitations import services as invitation_services
from invitations.models import Invitation
from members import api_tokens
from tests.invitations.conftest import link_identity, make_member, profile, random_did

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi_3_and_tells_how_to_call_the_api(spec):
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    text = spec["info"]["description"]
    for needed in ("POST /api/v1/auth/token/", "Authorization: Bearer", "`read`", "`events`", "`invitations`",
                   "429", "Retry-After", "/api/v1/", "next"):
        assert needed in text, needed
    assert spec["components"]["securitySchemes"]["apiToken"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": spec["components"]["securitySchemes"]["apiToken"]["description"]}
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    assert {path for path, _, _ in operations} >= {
        "/api/v1/auth/token/", "/api/v1/events/", "/api/v1/events/{id}/rsvp/", "/api/v1/bluesky/identity/",
        "/api/v1/invitations/batches/{batch_id}/", "/api/v1/invitations/{kind}/{id}/preview/",
        "/api/v1/invitations/{kind}/{id}/graph/{graph}/", "/api/v1/invitations/{kind}/{id}/"}
    for path, method, op in operations:
        assert all(path.startswith("/api/v1/") for path, _, _ in operations)
        ok = [code for code in op["responses"] if code.startswith("2")]
        assert ok and all("content" in op["responses"][code] for code in ok if code != "204"), (path, method)
        assert "429" in op["responses"] and "Retry-After" in op["responses"]["429"]["headers"]
        if path != "/api/v1/auth/token/":
            assert re.search(r"API-token permission: `(read|events|invitations)`", op["description"]), path
            assert {"401", "403"} <= set(op["responses"])
        if method == "post" and "requestBody" in op:
            assert "application/json" in op["requestBody"]["content"], path


def test_docs_page_is_served_with_local_assets_only(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/schema/" in client.get("/api/docs/", {"script": ""}).content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    for asset in assets:
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), asset


class ApiWorld:
    """Ann hosts an event with an invitation batch and has a Bluesky identity (at a closed port);
    Cara hosts one without any Bluesky account."""

    def __init__(self) -> None:
        self.ann, self.cara, self.bob = make_member("ann"), make_member("cara"), make_member("bob")
        link_identity(member=self.ann, did=random_did(), handle="ann.test")
        start = timezone.now() + timedelta(days=3)
        self.event = elonara_services.event_create(host=self.ann, title="Board games", starts_at=start,
                                                   ends_at=start + timedelta(hours=2), description="", venue="Café")
        self.cara_event = elonara_services.event_create(host=self.cara, title="Quiz", starts_at=start,
                                                        ends_at=start + timedelta(hours=2), description="",
                                                        venue="Pub")
        # Ask to join, two seats: Bob's and Cara's requests wait for Ann's decision.
        self.club = elonara_services.event_create(host=self.ann, title="Supper club", starts_at=start,
                                                  ends_at=start + timedelta(hours=2), description="", venue="Home",
                                                  capacity=2, requires_approval=True)
        self.bob_request = elonara_services.rsvp_set(event=self.club, member=self.bob, status="going")
        self.cara_request = elonara_services.rsvp_set(event=self.club, member=self.cara, status="going")
        result = invitation_services.invitations_enqueue(host=self.ann, target=self.event, message_template="",
                                                         profiles=[profile("x.test"), profile("y.test")])
        self.batch = result.batch
        Invitation.objects.filter(pk=result.created[0].pk).update(status=Invitation.Status.FAILED,
                                                                   failure_reason="Bluesky said no.")


def _bearer(member, permissions=("read", "events", "invitations")) -> dict[str, str]:
    created = api_tokens.api_token_create(member=member, name="test", permissions=list(permissions))
    answer = Client().post("/api/v1/auth/token/", {"api_token": created.secret}, content_type="application/json")
    assert answer.status_code == 200
    return {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['access_token']}"}


def _check(spec: dict, path: str, method: str, response) -> None:
    """The answer's status is documented for the operation, and its body matches that schema."""
    documented = spec["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, (path, method, response.status_code, response.content[:300])
    if "content" not in documented[str(response.status_code)]:
        assert response.content == b"", (path, method)
        return
    schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": spec["components"]}).validate(response.json())


def test_every_documented_operation_answers_as_documented(spec, settings, django_capture_on_commit_callbacks):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with django_capture_on_commit_callbacks(execute=False):  # nothing reaches a broker
        w = ApiWorld()
        ann, cara = _bearer(w.ann), _bearer(w.cara)
        client = Client()
        ev, cara_ev = w.event.pk, w.cara_event.pk
        ann_ticket = rsvp_ticket_code(rsvp=w.event.rsvps.get(member=w.ann))  # the host's own seat
        calls = [
            (ann, "get", "/api/v1/bluesky/identity/", "/api/v1/bluesky/identity/", None),
            (cara, "get", "/api/v1/bluesky/identity/", "/api/v1/bluesky/identity/", None),
            (ann, "get", "/api/v1/events/", "/api/v1/events/", None),
            (ann, "get", "/api/v1/events/{id}/", f"/api/v1/events/{w.club.pk}/", None),
            (ann, "post", "/api/v1/series/", "/api/v1/series/", {
                "kind": "weekly", "count": 3, "title": "Run club", "time_zone": "Europe/Berlin", "venue": "Park",
                "language": "de",
                "starts_at": (timezone.now() + timedelta(days=2)).isoformat(),
                "ends_at": (timezone.now() + timedelta(days=2, hours=1)).isoformat()}),
            (ann, "post", "/api/v1/series/", "/api/v1/series/", {"kind": "yearly"}),
            (ann, "post", "/api/v1/events/", "/api/v1/events/", {
                "title": "Lantern walk", "announce": True, "venue": "Park",
                "starts_at": (timezone.now() + timedelta(days=4)).isoformat(),
                "ends_at": (timezone.now() + timedelta(days=4, hours=1)).isoformat()}),
            (cara, "post", "/api/v1/events/", "/api/v1/events/", {  # no account of hers can post it
                "title": "Quiz II", "announce": True,
                "starts_at": (timezone.now() + timedelta(days=4)).isoformat(),
                "ends_at": (timezone.now() + timedelta(days=4, hours=1)).isoformat()}),
            (cara, "get", "/api/v1/events/{id}/", f"/api/v1/events/{w.club.pk}/", None),
            (ann, "get", "/api/v1/events/{id}/requests/", f"/api/v1/events/{w.club.pk}/requests/", None),
            (cara, "get", "/api/v1/events/{id}/requests/", f"/api/v1/events/{w.club.pk}/requests/", None),
            (ann, "post", "/api/v1/events/{id}/requests/{rsvp_id}/approve/",
             f"/api/v1/events/{w.club.pk}/requests/{w.bob_request.pk}/approve/", None),
            (ann, "post", "/api/v1/events/{id}/requests/{rsvp_id}/decline/",
             f"/api/v1/events/{w.club.pk}/requests/{w.cara_request.pk}/decline/", None),
            (ann, "get", "/api/v1/events/{id}/waitlist/", f"/api/v1/events/{w.club.pk}/waitlist/", None),
            (ann, "get", "/api/v1/events/{id}/answers/", f"/api/v1/events/{w.club.pk}/answers/", None),
            (cara, "get", "/api/v1/events/{id}/answers/", f"/api/v1/events/{w.club.pk}/answers/", None),
            (cara, "get", "/api/v1/events/{id}/waitlist/", f"/api/v1/events/{w.club.pk}/waitlist/", None),
            (ann, "post", "/api/v1/events/{id}/cohosts/", f"/api/v1/events/{ev}/cohosts/", {"username": "bob"}),
            (cara, "post", "/api/v1/events/{id}/cohosts/", f"/api/v1/events/{ev}/cohosts/", {"username": "bob"}),
            (cara, "get", "/api/v1/events/{id}/cohosts/", f"/api/v1/events/{ev}/cohosts/", None),
            (ann, "delete", "/api/v1/events/{id}/cohosts/{username}/", f"/api/v1/events/{ev}/cohosts/bob/", None),
            (ann, "post", "/api/v1/events/{id}/checkins/", f"/api/v1/events/{ev}/checkins/", {"code": ann_ticket}),
            (ann, "post", "/api/v1/events/{id}/checkins/", f"/api/v1/events/{ev}/checkins/", {"code": ann_ticket}),
            (ann, "post", "/api/v1/events/{id}/checkins/", f"/api/v1/events/{ev}/checkins/", {"code": "ELT1-x"}),
            (cara, "post", "/api/v1/events/{id}/checkins/", f"/api/v1/events/{ev}/checkins/", {"code": ann_ticket}),
            (ann, "post", "/api/v1/events/{id}/checkins/", f"/api/v1/events/{ev}/checkins/", {}),
            (ann, "post", "/api/v1/events/{id}/rsvp/", f"/api/v1/events/{cara_ev}/rsvp/", {"status": "maybe"}),
            (ann, "post", "/api/v1/events/{id}/rsvp/", f"/api/v1/events/{cara_ev}/rsvp/", {"status": "perhaps"}),
            (ann, "post", "/api/v1/events/{id}/rsvp/", "/api/v1/events/999999/rsvp/", {"status": "going"}),
            ({}, "get", "/api/v1/events/", "/api/v1/events/", None),
            (_bearer(w.ann, ["events"]), "get", "/api/v1/events/", "/api/v1/events/", None),
            (ann, "get", "/api/v1/invitations/batches/{batch_id}/", f"/api/v1/invitations/batches/{w.batch.pk}/", None),
            (cara, "get", "/api/v1/invitations/batches/{batch_id}/", f"/api/v1/invitations/batches/{w.batch.pk}/",
             None),
            (ann, "post", "/api/v1/invitations/{kind}/{id}/preview/", f"/api/v1/invitations/event/{ev}/preview/",
             {"message": "Come!", "did": random_did(), "handle": "z.test"}),
            (cara, "get", "/api/v1/invitations/{kind}/{id}/graph/{graph}/",
             f"/api/v1/invitations/event/{cara_ev}/graph/followers/", None),
            (cara, "post", "/api/v1/invitations/{kind}/{id}/", f"/api/v1/invitations/event/{cara_ev}/",
             {"dids": [random_did()], "message": ""}),
            (ann, "post", "/api/v1/invitations/{kind}/{id}/", f"/api/v1/invitations/event/{ev}/", {"dids": []}),
        ]
        seen = set()
        for headers, method, path, url, body in calls:
            if method == "get":
                response = client.get(url, **headers)
            elif method == "delete":
                response = client.delete(url, **headers)
            else:
                response = client.post(url, body, content_type="application/json", **headers)
            _check(spec, path, method, response)
            seen.add((path, method))
        series = EventSeries.objects.get(title="Run club").pk
        _check(spec, "/api/v1/series/{id}/", "get", client.get(f"/api/v1/series/{series}/", **ann))
        seen.add(("/api/v1/series/{id}/", "get"))
        answer = client.post("/api/v1/auth/token/", {"api_token": "elo_nope"}, content_type="application/json")
        _check(spec, "/api/v1/auth/token/", "post", answer)
        assert answer.status_code == 401
        seen.add(("/api/v1/auth/token/", "post"))
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented == seen


def test_event_list_pages_in_a_stable_order_and_the_unversioned_address_still_answers(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    host = make_member("ann")
    start = timezone.now() + timedelta(days=1)

    def event(title, at):
        return elonara_services.event_create(host=host, title=title, starts_at=at, ends_at=at + timedelta(hours=1),
                                             description="", venue="Park")

    # Several at the same time: the order must still be total (start time, then id).
    made = [event(f"E{i}", start + timedelta(hours=i // 3)) for i in range(25)]
    headers = _bearer(host, ["read"])
    client = Client()
    seen, url, pages = [], "/api/v1/events/?limit=10", 0
    while url:
        page = client.get(url, **headers).json()
        seen += [e["id"] for e in page["results"]]
        if pages == 0:
            event("Later", start + timedelta(days=30))  # added while paging: shows at the end, nothing repeats
        url, pages = page["next"], pages + 1
    expected = sorted(made, key=lambda e: (e.starts_at, e.pk))
    assert seen[:25] == [e.pk for e in expected] and len(seen) == len(set(seen)) == 26 and pages == 3
    assert client.get("/api/v1/events/?limit=1000", **headers).json()["results"].__len__() == 26  # capped at 100

    old = client.get("/api/events/", **headers)
    assert old.status_code == 200 and [e["id"] for e in old.json()["events"]][:25] == [e.pk for e in expected]
    assert client.get("/api/bluesky/identity/", **headers).json() == {"connected": False}
