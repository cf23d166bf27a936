"""Cross-app fixtures. The AT Protocol test peer's fixtures live in tests/peer/; the app's
settings for talking to it in tests/bluesky_fixtures.py."""

pytest_plugins = ["tests.peer.fixtures", "tests.bluesky_fixtures"]


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits, graph pages and pacing state live in the shared cache: each test starts clean."""
    from django.core.cache import cache

    try:
        cache.clear()
    except Exception:  # noqa: BLE001 - the database cache table may not exist before the test database
        pass
    yield


@pytest.fixture
def mail_server(settings):
    """A real SMTP server on loopback (tests/mail_server.py); Django's mail goes to it."""
    from tests.mail_server import MailServer

    server = MailServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_URL = server.url
    yield server
    server.stop()
