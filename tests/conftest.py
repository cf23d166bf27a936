"""Cross-app fixtures. The AT Protocol test peer's fixtures live in tests/peer/."""
