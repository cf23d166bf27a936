"""Invitation counters on /metrics: queued on commit (sent/failed: see test_peer_metrics.py)."""

from __future__ import annotations

import pytest

from invitations import services
from tests.core.test_metrics import metrics_on, scrape, value  # noqa: F401 - fixture
from tests.invitations.conftest import profile


@pytest.mark.usefixtures("metrics_on")
def test_enqueue_counts_queued_invitations_after_commit(client, host, event, django_capture_on_commit_callbacks):
    before = value(scrape(client), "elonara_invitations_queued_total")
    with django_capture_on_commit_callbacks(execute=True):
        services.invitations_enqueue(host=host, target=event, message_template="",
                                     profiles=[profile("bob.test"), profile("carol.test")])
    assert value(scrape(client), "elonara_invitations_queued_total") == before + 2
