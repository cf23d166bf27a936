"""gunicorn's access log with our client address and no secrets in paths.

`h` is the client behind the trusted proxies (core.client_address, the address the rate limits
key on), not the proxy's; the path (`U`, and the request line `r`) has calendar-feed tokens
redacted: the feed address is a bearer secret.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from core.client_address import client_address_of_environ
from core.log_filters import redact_feed_tokens


class AccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        trusted = ",".join(self.cfg.forwarded_allow_ips) if isinstance(self.cfg.forwarded_allow_ips, list) \
            else str(self.cfg.forwarded_allow_ips)
        atoms["h"] = client_address_of_environ(environ, trusted=trusted)
        for key in ("U", "r"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_feed_tokens(atoms[key])
        return atoms
