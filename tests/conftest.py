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
