"""Tests of the AT Protocol test peer and its fixtures."""
