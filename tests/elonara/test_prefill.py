"""The "create an event" link other apps hand us (/events/new/?title=...): the form comes filled in
for the host to check, nothing is saved until they publish, and what is not understood is left
out with a note, never an error page."""

from __future__ import annotations

from html import unescape

import pytest
from django.test import Client

from elonara.models import Event


@pytest.fixture
def host(django_user_model):
    member = django_user_model.objects.create_user(username="host", password="pw-123456")
    client = Client()
    client.force_login(member)
    return client


LINK = {"title": "Tea  tasting\nnight", "start": "2031-05-02T19:00", "end": "2031-05-02T21:30",
        "tz": "Europe/Lisbon", "place": "Casa do Chá, Porto", "link": "https://meet.example/tea",
        "description": "Bring a cup.\nOr two."}


@pytest.mark.django_db
def test_the_link_fills_the_form_and_saves_nothing(host):
    page = host.get("/events/new/", LINK)
    body = unescape(page.content.decode())
    assert page.status_code == 200 and not Event.objects.exists()
    assert 'value="Tea tasting night"' in body
    assert 'value="2031-05-02T19:00"' in body and 'value="2031-05-02T21:30"' in body
    assert 'value="Casa do Chá, Porto"' in body and 'value="https://meet.example/tea"' in body
    assert "Bring a cup.\nOr two.</textarea>" in body
    assert '<option value="Europe/Lisbon" selected>' in body
    assert "Filled in from a link" in body and 'id="prefill-notes"' not in body
    # A plain visit to the form says nothing about links.
    assert "Filled in from a link" not in host.get("/events/new/").content.decode()


@pytest.mark.django_db
def test_an_offset_time_is_read_in_the_zone_given(host):
    body = host.get("/events/new/", {"title": "Call", "start": "2031-01-10T18:00:00Z",
                                     "tz": "Europe/Berlin"}).content.decode()
    assert 'value="2031-01-10T19:00"' in body and not Event.objects.exists()


@pytest.mark.django_db
def test_bad_values_are_left_out_with_a_note_not_an_error(host):
    page = host.get("/events/new/", {"title": "x" * 500, "start": "next tuesday", "end": "2031-05-02T21:30",
                                     "tz": "Mars/Olympus", "link": "javascript:alert(1)",
                                     "place": "<script>alert(1)</script>"})
    body = unescape(page.content.decode())
    assert page.status_code == 200 and not Event.objects.exists()
    assert "The start time in the link was not understood and was left out." in body
    assert "The time zone in the link was not recognised" in body
    assert "not an https:// address and was left out" in body
    assert "javascript:alert" not in body
    assert f'value="{"x" * 200}"' in body and "x" * 201 not in body
    assert "<script>alert(1)</script>" not in page.content.decode()  # shown escaped, as text
    late = unescape(host.get("/events/new/", {"start": "2031-05-02T21:00", "end": "2031-05-02T20:00"}
                             ).content.decode())
    assert "The end time in the link was not after the start and was left out." in late
    assert 'value="2031-05-02T21:00"' in late and 'value="2031-05-02T20:00"' not in late


@pytest.mark.django_db
def test_publishing_is_the_hosts_click(host):
    body = host.get("/events/new/", LINK).content.decode()
    assert "Publish event" in body and not Event.objects.exists()
    answer = host.post("/events/new/", {"title": "Tea tasting night", "starts_at": "2031-05-02T19:00",
                                        "ends_at": "2031-05-02T21:30", "time_zone": "Europe/Lisbon",
                                        "venue": "Casa do Chá, Porto", "description": "Bring a cup."})
    assert answer.status_code == 302, answer.content[:500]
    assert Event.objects.get().title == "Tea tasting night"


@pytest.mark.django_db
def test_a_visitor_signs_in_and_comes_back_to_the_filled_form():
    answer = Client().get("/events/new/", LINK)
    # The whole link is kept in `next`, so the form is filled in after signing in.
    assert answer.status_code == 302 and "title%3DTea" in answer["Location"]
