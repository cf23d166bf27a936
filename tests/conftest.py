"""Cross-app fixtures. The AT Protocol test peer's fixtures live in tests/peer/."""

pytest_plugins = ["tests.peer.fixtures"]
