"""The AT Protocol test peer: launcher, install script and pytest fixtures (see README.md)."""
