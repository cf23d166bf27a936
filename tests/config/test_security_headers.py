"""Every answer carries the security headers; the policy allows only our own scripts and styles."""

import pytest

from tests.invitations.conftest import make_event, make_member

PAGES = ["/", "/members/login/", "/members/signup/", "/upcoming/", "/api/docs/", "/healthz"]


def _directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    policy = _directives(response.headers["Content-Security-Policy"])
    # No inline script or style is allowed anywhere, and nothing may frame us.
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'self'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]


@pytest.mark.django_db
def test_a_signed_in_members_event_page_carries_them_too(client):
    host = make_member("hosting")
    event = make_event(host=host)
    client.force_login(host)
    response = client.get(event.get_absolute_url())
    assert response.status_code == 200
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
def test_plain_http_hosts_are_allowed_only_on_a_local_test_network(client, settings):
    policy = _directives(client.get("/members/login/").headers["Content-Security-Policy"])
    assert "http:" not in policy["form-action"] and "http:" not in policy["img-src"]
    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    policy = _directives(client.get("/members/login/").headers["Content-Security-Policy"])
    # The sign-in redirect to a loopback authorization server, and its avatars.
    assert "http:" in policy["form-action"] and "http:" in policy["img-src"]
    assert policy["script-src"] == ["'self'"]


@pytest.mark.django_db
def test_pages_are_sent_compressed_with_a_csrf_token_masked_afresh_each_time(client):
    """HTML goes gzip-compressed to a browser that accepts it. BREACH guessing needs a secret repeated
    unchanged in every compressed answer: the form's CSRF token is masked anew on each request."""
    import gzip
    import re

    tokens = []
    for _ in range(2):
        response = client.get("/members/login/", headers={"accept-encoding": "gzip, br"})
        assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["Vary"]
        html = gzip.decompress(response.content).decode()
        tokens.append(re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1))
    assert tokens[0] != tokens[1]
    # A client that does not ask for it gets the page as it is.
    assert "Content-Encoding" not in client.get("/members/login/").headers
