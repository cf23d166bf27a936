"""Cross-app fixtures. The AT Protocol test peer's fixtures live in tests/peer/; the app's
settings for talking to it in tests/bluesky_fixtures.py."""

pytest_plugins = ["tests.peer.fixtures", "tests.bluesky_fixtures"]
