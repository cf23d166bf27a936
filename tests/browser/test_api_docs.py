"""/api/docs/ in a real browser: the documentation renders from our own server alone, and a
developer can exchange a token and call an endpoint from it."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from elonara import services
from members import api_tokens
from members.models import Member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_render_locally_and_call_the_api(live_server, page):
    ann = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    start = timezone.now() + timedelta(days=2)
    services.event_create(host=ann, title="Lakeside ride", starts_at=start, ends_at=start + timedelta(hours=2),
                          venue="Boathouse")
    secret = api_tokens.api_token_create(member=ann, name="docs", permissions=["read"]).secret
    origins = set()
    page.on("request", lambda request: origins.add(urlsplit(request.url).netloc))

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=30_000)
    spec = Client().get("/api/schema/", {"format": "json"}).json()
    assert page.locator(".opblock").count() == sum(len(item) for item in spec["paths"].values())
    assert "Rate limits" in page.locator(".info").inner_text()

    # The token exchange, from the page: "Try it out" on POST /api/v1/auth/token/.
    exchange = page.locator("#operations-auth-auth_token_create")
    exchange.locator(".opblock-summary").click()
    exchange.get_by_role("button", name="Try it out").click()
    exchange.locator("textarea.body-param__text").fill(f'{{"api_token": "{secret}"}}')
    exchange.get_by_role("button", name="Execute").click()
    body = exchange.locator(".live-responses-table .response-col_description pre").first
    body.wait_for()
    assert '"access_token"' in body.inner_text()
    access = body.inner_text().split('"access_token": "', 1)[1].split('"', 1)[0]

    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".auth-container input[type=text]").first.fill(access)
    page.locator(".auth-container button.authorize").first.click()
    page.locator(".auth-container button.btn-done").first.click()

    events = page.locator("#operations-events-events_list")
    events.locator(".opblock-summary").click()
    events.get_by_role("button", name="Try it out").click()
    events.get_by_role("button", name="Execute").click()
    result = events.locator(".live-responses-table .response-col_description pre").first
    result.wait_for()
    assert "Lakeside ride" in result.inner_text()
    assert origins == {urlsplit(live_server.url).netloc}
