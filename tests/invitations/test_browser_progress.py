"""The progress page in a real browser: the bar and counts move without a reload; Retry failed."""

from __future__ import annotations

import pytest
from django.test import Client

from invitations import services, states
from invitations.models import Invitation
from tests.browser.conftest import launch_browser, page  # noqa: F401 - fixtures
from tests.invitations.conftest import make_event, make_member, profile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
S = Invitation.Status


def _login(page, live_server, member) -> None:  # noqa: F811
    client = Client()
    client.force_login(member)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])


def test_progress_bar_updates_live_and_retry_failed(live_server, page, monkeypatch):  # noqa: F811
    # Sending is driven by hand here (statuses set through the service's own transitions), so no
    # worker and no broker message are involved: the page's polling is what is under test.
    monkeypatch.setattr(services, "_dispatch_due_soon", lambda: None)
    host = make_member("alice")
    event = make_event(host=host)
    created = services.invitations_enqueue(
        host=host, target=event, profiles=[profile("a.test"), profile("b.test"), profile("c.test")],
        message_template="",
    ).created
    batch = created[0].batch
    _login(page, live_server, host)
    page.goto(f"{live_server.url}/invitations/batches/{batch.pk}/")
    assert page.locator("#count-waiting").inner_text() == "3"
    page.evaluate("window.__noReload = true")

    for inv in created:
        states.invitation_transition(invitation_id=inv.pk, to=S.QUEUED)
        states.invitation_transition(invitation_id=inv.pk, to=S.SENDING)
    states.invitation_transition(invitation_id=created[0].pk, to=S.SENT)
    states.invitation_transition(invitation_id=created[1].pk, to=S.FAILED,
                                 failure_reason="The Bluesky server had a problem", retryable=True)

    page.wait_for_function("document.getElementById('count-sent').textContent === '1'")
    page.wait_for_function("document.getElementById('count-failed').textContent === '1'")
    assert page.locator("#progress-bar").evaluate("b => [b.value, b.max]") == [2, 3]
    assert "@b.test: The Bluesky server had a problem" in page.locator("#failures").inner_text()
    assert page.evaluate("window.__noReload === true")  # same document: updated by polling

    states.invitation_transition(invitation_id=created[2].pk, to=S.SENT)
    page.wait_for_selector("#progress-done", state="visible")

    page.get_by_role("button", name="Retry failed").click()
    page.wait_for_function("document.getElementById('count-waiting').textContent === '1'")
    assert Invitation.objects.get(pk=created[1].pk).status == S.QUEUED
