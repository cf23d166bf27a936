"""The client's address behind the proxies we trust: one answer for every rate limit and log line.

Behind a proxy, REMOTE_ADDR is the proxy's address: keyed on it, every visitor would share one
rate-limit bucket. The proxy appends the address it saw to `X-Forwarded-For`; anything to the
left of that came from the client and may be made up. So the header is read from the right:
each hop whose sender is one of the trusted proxies (`FORWARDED_ALLOW_IPS`, the same list gunicorn
trusts for `X-Forwarded-Proto`) is stepped over, and the first address a trusted proxy vouched
for that is not itself a trusted proxy is the client. A request that did not come from a trusted
proxy is its own client: a forged header from outside changes nothing.

Django-free (the gunicorn access logger uses it before Django is set up).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_ANY = "*"


@lru_cache(maxsize=16)
def trusted_networks(spec: str) -> tuple[Network, ...] | None:
    """`FORWARDED_ALLOW_IPS` (comma-separated addresses or networks) parsed; None for `*` (any)."""
    networks: list[Network] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if item == _ANY:
            return None
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue  # not an address (gunicorn ignores it too)
    return tuple(networks)


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _is_trusted(address, networks: tuple[Network, ...] | None) -> bool:
    if networks is None:
        return True
    return any(address.version == net.version and address in net for net in networks)


def client_address_from(*, remote_addr: str, forwarded_for: str | Iterable[str], trusted: str) -> str:
    """The client's address given the socket peer, the X-Forwarded-For value(s) and the trusted proxies."""
    peer = _parse(remote_addr or "")
    if peer is None:
        return remote_addr or "unknown"
    networks = trusted_networks(trusted)
    if not _is_trusted(peer, networks):
        return str(peer)
    values = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for)
    hops = [hop for value in values for hop in value.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break  # garbage where a trusted proxy should have written an address: stop at the last good one
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)


def client_address_of_environ(environ: dict, *, trusted: str) -> str:
    """Same, from a WSGI environ (gunicorn's access log)."""
    return client_address_from(remote_addr=environ.get("REMOTE_ADDR", ""),
                               forwarded_for=environ.get("HTTP_X_FORWARDED_FOR", ""), trusted=trusted)


def client_address(request) -> str:
    """The client's address of a Django request (rate limits, log lines); cached on the request."""
    cached = getattr(request, "_client_address", None)
    if cached is None:
        from django.conf import settings

        cached = client_address_of_environ(request.META, trusted=settings.FORWARDED_ALLOW_IPS)
        request._client_address = cached
    return cached
