"""/metrics: off without METRICS_TOKEN, bearer-protected, request metrics plus our invitation counters."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from core import metrics

TOKEN = "metrics-test-token-0123456789"


def scrape(client: Client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode()


def value(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(label_text) + r"\}" if labels else "") + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.PROMETHEUS_MULTIPROC_DIR = ""


def test_metrics_endpoint_is_off_without_a_token(client, settings, db):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


def test_metrics_endpoint_needs_the_bearer_token(client, metrics_on, db):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    client.get("/healthz")
    text = scrape(client)
    assert 'django_http_requests_total_by_view_transport_method_total{method="GET",transport="http",view="healthz"}' \
        in text
    assert "elonara_invitations_sent_total" in text and "elonara_bluesky_connects_started_total" in text


def test_label_values_are_closed_codes(client, metrics_on, db):
    before = value(scrape(client), "elonara_invitations_failed_total", reason="other")
    metrics.invitation_failed("https://evil.example/?token=abc")
    metrics.invitation_failed("rate_limited")
    text = scrape(client)
    assert value(text, "elonara_invitations_failed_total", reason="other") == before + 1
    assert value(text, "elonara_invitations_failed_total", reason="rate_limited") >= 1
    assert "evil" not in text
