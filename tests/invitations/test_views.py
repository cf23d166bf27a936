"""Pages, template tags and DRF endpoints, as a browser or API client sees them (no peer needed)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.template import engines
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from invitations import services, targets
from invitations.models import Invitation
from tests.invitations.conftest import link_identity, make_member, profile, random_did

S = Invitation.Status


def _render(template: str, *, request, **context) -> str:
    return engines["django"].from_string(template).render(context, request)


def _request(path: str, user):
    request = RequestFactory().get(path)
    request.user = user
    request.session = {}
    return request


@pytest.mark.django_db
def test_picker_is_for_the_host_only(client, host, event):
    url = reverse("invitations:picker", args=["event", event.pk])
    assert client.get(url).status_code == 302  # login first
    client.force_login(make_member("mallory"))
    assert client.get(url).status_code == 404
    client.force_login(host)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Invite from Bluesky" in html and 'id="tab-followers"' in html and 'id="tab-follows"' in html
    assert "{mention}" in html  # the editable default template


@pytest.mark.django_db
def test_host_tools_tag_shows_invite_link_to_host_only(host, event):
    from django.contrib.auth.models import AnonymousUser

    template = "{% load invitations_tags %}{% invitation_host_tools event %}"
    html = _render(template, request=_request("/", host), event=event)
    assert reverse("invitations:picker", args=["event", event.pk]) in html
    assert "Invite from Bluesky" in html
    assert "Invite from Bluesky" not in _render(template, request=_request("/", make_member("x")), event=event)
    assert "Invite from Bluesky" not in _render(template, request=_request("/", AnonymousUser()), event=event)


@pytest.mark.django_db
def test_landing_banner_recognises_the_invitation(host, event):
    from django.contrib.auth.models import AnonymousUser

    inv = services.invitations_enqueue(host=host, target=event, profiles=[profile("bob.test")],
                                       message_template="").created[0]
    template = "{% load invitations_tags %}{% invitation_banner event %}"
    html = _render(template, request=_request(f"/?invitation={inv.token}", AnonymousUser()), event=event)
    assert "@alice.test" in html and "invited you" in html
    # A token for another target, or none, shows nothing.
    assert "invited you" not in _render(template, request=_request("/?invitation=nope", AnonymousUser()), event=event)
    assert "invited you" not in _render(template, request=_request("/", AnonymousUser()), event=event)


@pytest.mark.django_db
def test_home_lists_the_members_bluesky_invitations(client, host, event, django_capture_on_commit_callbacks):
    did = random_did()
    inv = services.invitations_enqueue(host=host, target=event, profiles=[profile("bob.test", did=did)],
                                       message_template="").created[0]
    Invitation.objects.filter(pk=inv.pk).update(status=S.SENT)
    bob = make_member("bob")
    client.force_login(bob)
    assert "my-invitations" not in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # connecting drops Bob's cached home lists
        link_identity(member=bob, did=did, handle="bob.test")
    html = client.get("/").content.decode()
    assert "my-invitations" in html and f"{event.get_absolute_url()}?invitation={inv.token}" in html
    assert f">{event.title}</a>" in html and f"from {host}" in html
    # Said from the recipient's side: not "Sent", the sender's word.
    assert "Waiting for your answer" in html and ">Sent<" not in html


@pytest.mark.django_db
def test_status_endpoint_and_progress_page(client, host, event):
    created = services.invitations_enqueue(
        host=host, target=event, profiles=[profile("a.test"), profile("b.test"), profile("c.test")],
        message_template="",
    ).created
    Invitation.objects.filter(pk=created[0].pk).update(status=S.SENT)
    Invitation.objects.filter(pk=created[1].pk).update(status=S.FAILED, failure_reason="Bluesky said no.")
    batch = created[0].batch
    client.force_login(host)
    data = client.get(f"/api/invitations/batches/{batch.pk}/").json()
    assert (data["total"], data["sent"], data["failed"], data["waiting"]) == (3, 1, 1, 1)
    assert data["failures"] == [{"id": created[1].pk, "handle": "b.test", "reason": "Bluesky said no.",
                                 "code": "", "retryable": False}]
    page = client.get(reverse("invitations:progress", args=[batch.pk])).content.decode()
    assert 'id="progress-bar"' in page and "Bluesky said no." in page and "Retry failed" in page
    assert 'id="retry-failed-form" hidden' not in page
    # Nothing failed: nothing to retry (invitations.js shows it if a failure comes in later).
    Invitation.objects.filter(pk=created[1].pk).update(status=S.SENT, failure_reason="")
    cache.clear()
    page = client.get(reverse("invitations:progress", args=[batch.pk])).content.decode()
    assert 'id="retry-failed-form" hidden' in page
    client.force_login(make_member("mallory"))
    assert client.get(f"/api/invitations/batches/{batch.pk}/").status_code == 404
    assert client.get(reverse("invitations:progress", args=[batch.pk])).status_code == 404


@pytest.mark.django_db
def test_preview_endpoint_returns_the_exact_post(client, host, event):
    client.force_login(host)
    did = random_did()
    response = client.post(
        f"/api/invitations/event/{event.pk}/preview/",
        {"message": "{mention} come to {name}! {link}", "did": did, "handle": "bob.test"},
        content_type="application/json",
    )
    assert response.status_code == 200
    data = response.json()
    assert data["text"].startswith("@bob.test come to ")
    assert data["facets"][0]["features"][0]["did"] == did


@pytest.mark.django_db
def test_bulk_create_endpoint_validates_and_guards(client, host, event):
    url = f"/api/invitations/event/{event.pk}/"
    client.force_login(host)
    assert client.post(url, {"dids": []}, content_type="application/json").status_code == 400
    client.force_login(make_member("mallory"))
    assert client.post(url, {"dids": [random_did()]}, content_type="application/json").status_code == 404
    client.logout()
    # Not signed in: 401 with a challenge (the API also takes Elonara API tokens).
    anonymous = client.post(url, {"dids": [random_did()]}, content_type="application/json")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_retry_requires_post_and_the_host(client, host, event):
    inv = services.invitations_enqueue(host=host, target=event, profiles=[profile("a.test")],
                                       message_template="").created[0]
    url = reverse("invitations:retry_failed", args=[inv.batch_id])
    client.force_login(host)
    assert client.get(url).status_code == 405
    client.force_login(make_member("mallory"))
    assert client.post(url).status_code == 404


@pytest.mark.django_db
def test_admin_lists_invitations_read_only(client, host, event):
    inv = services.invitations_enqueue(host=host, target=event, profiles=[profile("bob.test")],
                                       message_template="").created[0]
    staff = make_member("staff")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    listing = client.get("/admin/invitations/invitation/")
    assert listing.status_code == 200 and "bob.test" in listing.content.decode()
    change = client.get(f"/admin/invitations/invitation/{inv.pk}/change/")
    assert change.status_code == 200
    assert client.get("/admin/invitations/invitation/add/").status_code == 403


@pytest.mark.django_db
def test_event_page_banner_and_decline_by_the_invitee(client, host, event):
    did = random_did()
    inv = services.invitations_enqueue(host=host, target=event, profiles=[profile("bob.test", did=did)],
                                       message_template="").created[0]
    Invitation.objects.filter(pk=inv.pk).update(status=S.SENT)
    landing = f"{event.get_absolute_url()}?invitation={inv.token}"
    anonymous = client.get(landing).content.decode()
    assert "@alice.test</strong> invited you" in anonymous and "Sign up" in anonymous and "Decline" not in anonymous
    bob = make_member("bob")
    link_identity(member=bob, did=did, handle="bob.test")
    client.force_login(bob)
    page = client.get(landing).content.decode()
    assert "Decline" in page
    assert client.post(reverse("invitations:decline", args=[inv.token])).status_code == 302
    inv.refresh_from_db()
    assert inv.status == S.DECLINED
    # The host's page shows "Invite from Bluesky"; bob's does not.
    assert "Invite from Bluesky" not in client.get(event.get_absolute_url()).content.decode()
    client.force_login(host)
    assert "Invite from Bluesky" in client.get(event.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_the_post_is_in_the_language_picked_the_hosts_by_default(client, host, event):
    """The picker offers the host's language; the preview (and so the post) carries the one picked
    in `langs`, its date written in it."""
    host.language = "de"
    host.save(update_fields=["language"])
    client.force_login(host)
    page = client.get(reverse("invitations:picker", args=["event", event.pk])).content.decode()
    assert '<option value="de" lang="de" selected>' in page
    url = f"/api/invitations/event/{event.pk}/preview/"
    body = {"message": "", "did": random_did(), "handle": "bob.test"}
    assert client.post(url, body, content_type="application/json").json()["langs"] == ["de"]
    portuguese = client.post(url, {**body, "language": "pt-br"}, content_type="application/json").json()
    assert portuguese["langs"] == ["pt-BR"]
    with translation.override("pt-br"):
        assert targets.target_date_text(event) in portuguese["text"]
    assert client.post(url, {**body, "language": "tlh"}, content_type="application/json").status_code == 400
