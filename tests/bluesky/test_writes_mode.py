"""The writes-mode switch: settings default, staff flips it in the admin, audit trail, factory."""

import pytest
from django.urls import reverse

from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.agents.legacy import LegacyBlueskyAgent
from bluesky.agents.oauth import OAuthBlueskyAgent
from bluesky.errors import WritesModeError
from bluesky.models import WritesModeChange, WritesModeSetting
from bluesky.selectors import writes_mode_get
from bluesky.services import writes_mode_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(username="staffer", email="s@example.org", password="pw-123456")


def test_default_comes_from_settings(settings):
    settings.BLUESKY_WRITES_MODE = "oauth"
    assert writes_mode_get() == "oauth"
    assert isinstance(BlueskyAgentFactory.make(), OAuthBlueskyAgent)
    settings.BLUESKY_WRITES_MODE = "legacy"
    assert writes_mode_get() == "legacy"
    assert isinstance(BlueskyAgentFactory.make(), LegacyBlueskyAgent)


def test_stored_mode_wins_over_settings_and_each_change_is_audited(settings, staff):
    settings.BLUESKY_WRITES_MODE = "legacy"
    writes_mode_set(mode="oauth", changed_by=staff)
    writes_mode_set(mode="oauth", changed_by=staff)  # no change: no audit row
    writes_mode_set(mode="legacy", changed_by=None)
    settings.BLUESKY_WRITES_MODE = "oauth"
    assert writes_mode_get() == "legacy"
    changes = list(WritesModeChange.objects.order_by("pk").values_list("changed_by_username", "from_mode", "to_mode"))
    assert changes == [("staffer", "legacy", "oauth"), ("", "oauth", "legacy")]


def test_unknown_mode_is_refused():
    with pytest.raises(WritesModeError):
        writes_mode_set(mode="carrier-pigeon")
    assert not WritesModeSetting.objects.exists()


def test_staff_flips_mode_in_admin_and_factory_follows(client, staff, settings):
    settings.BLUESKY_WRITES_MODE = "legacy"
    client.force_login(staff)
    # The list view leads to the single row's change form.
    listing = client.get(reverse("admin:bluesky_writesmodesetting_changelist"))
    assert listing.status_code == 302
    url = reverse("admin:bluesky_writesmodesetting_change", args=[1])
    assert listing["Location"] == url
    page = client.get(url)
    assert page.status_code == 200
    assert b"Readiness" in page.content and b"Check relay" in page.content
    assert isinstance(BlueskyAgentFactory.make(), LegacyBlueskyAgent)

    response = client.post(url, {"mode": "oauth", "_save": "Save"})
    assert response.status_code == 302, response.content[:2000]

    assert isinstance(BlueskyAgentFactory.make(), OAuthBlueskyAgent)
    change = WritesModeChange.objects.get()
    assert (change.changed_by, change.from_mode, change.to_mode) == (staff, "legacy", "oauth")
    # The audit trail is shown on the page.
    page = client.get(url)
    assert b"staffer" in page.content and b"legacy" in page.content

    client.post(url, {"mode": "legacy", "_save": "Save"})
    assert isinstance(BlueskyAgentFactory.make(), LegacyBlueskyAgent)
    assert WritesModeChange.objects.count() == 2


def test_non_staff_cannot_flip(client, django_user_model):
    member = django_user_model.objects.create_user(username="m", password="pw-123456")
    client.force_login(member)
    url = reverse("admin:bluesky_writesmodesetting_change", args=[1])
    response = client.post(url, {"mode": "oauth", "_save": "Save"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert writes_mode_get() == "legacy"
    assert not WritesModeChange.objects.exists()


def test_check_relay_without_relay_reports_not_configured(client, staff, settings):
    settings.BLUESKY_RELAY_IDENTIFIER = ""
    settings.BLUESKY_RELAY_APP_PASSWORD = ""
    client.force_login(staff)
    response = client.post(reverse("admin:bluesky_check_relay"), follow=True)
    assert b"No relay account is configured" in response.content
