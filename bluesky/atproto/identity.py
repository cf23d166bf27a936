"""Handles and DIDs: syntax, resolution both ways, and the DID document's PDS.

Facts from the AT Protocol handle and DID specs: a handle resolves by DNS TXT `_atproto.<handle>`
(`did=...`, exactly one) or HTTPS `/.well-known/atproto-did`; DNS wins. A handle is only trusted
when the DID document it leads to lists `at://<handle>` in `alsoKnownAs`. `did:plc` documents come
from the PLC directory, `did:web` from `https://<host>/.well-known/did.json`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from bluesky.atproto.cache import TtlCache
from bluesky.atproto.errors import AtprotoError, IdentityResolutionError, TransportError
from bluesky.atproto.http import SafeHttpClient
from bluesky.atproto.syntax import is_account_did, is_account_handle

if TYPE_CHECKING:
    import dns.resolver

INVALID_HANDLE = "handle.invalid"
IDENTITY_TTL = 600.0
# Handle lookups get far less than other fetches, like the reference client (3 s): the answer is
# one short line, and a member waits on it at sign-in.
HANDLE_LOOKUP_TIMEOUT = 3.0
HANDLE_WELL_KNOWN_MAX_BYTES = 4096
# Well-known lookups running at once in this process, each in its own thread; past that, the
# lookup runs in the caller's thread after DNS (slower for that member, never stalling others).
MAX_PARALLEL_WELL_KNOWN = 64


def normalize_handle(text: str) -> str:
    return text.strip().removeprefix("@").strip().lower()


def normalize_identifier(text: str) -> str:
    """A handle or a DID as a member typed it: DIDs are case-sensitive and kept, handles normalised."""
    text = text.strip()
    return text if text.startswith("did:") else normalize_handle(text)


# The names callers outside the protocol package import (elonara's consumer, the package's public
# API); the rules are `syntax`'s.
def is_valid_handle(handle: str, *, allow_test_tld: bool = False) -> bool:
    """A handle an account may have (`syntax.is_account_handle`)."""
    return is_account_handle(handle, allow_test_tld=allow_test_tld)


def is_valid_did(did: str, *, allow_localhost: bool = False) -> bool:
    """The DID of an account: `did:plc` or hostname-level `did:web` (`syntax.is_account_did`)."""
    return is_account_did(did, allow_localhost=allow_localhost)


@dataclass(frozen=True)
class ResolvedIdentity:
    did: str
    handle: str  # INVALID_HANDLE when it could not be verified both ways
    pds_url: str
    handle_verified: bool
    document: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


def pds_endpoint(document: dict[str, Any], did: str) -> str:
    for service in document.get("service") or []:
        if not isinstance(service, dict):
            continue
        if service.get("id") in ("#atproto_pds", f"{did}#atproto_pds") and \
                service.get("type") == "AtprotoPersonalDataServer":
            endpoint = service.get("serviceEndpoint")
            if isinstance(endpoint, str):
                parts = urlsplit(endpoint)
                if parts.scheme in ("https", "http") and parts.hostname and not parts.query and not parts.fragment:
                    return endpoint.rstrip("/")
    raise IdentityResolutionError("That account's DID document names no usable Bluesky server.", code="no_pds")


def handles_in(document: dict[str, Any]) -> list[str]:
    return [normalize_handle(a[5:]) for a in document.get("alsoKnownAs") or []
            if isinstance(a, str) and a.startswith("at://")]


DnsTxtLookup = Callable[[str], list[str]]


class DnsTxt:
    """TXT lookups with dnspython: the system's name servers, or the given ones (a test's own DNS
    server on loopback). Every failure to get an answer counts as no record."""

    def __init__(self, *, nameservers: Sequence[str] | None = None, port: int = 53,
                 timeout: float = HANDLE_LOOKUP_TIMEOUT) -> None:
        self._nameservers = list(nameservers or [])
        self._port = port
        self._timeout = timeout
        self._resolver: dns.resolver.Resolver | None = None
        self._lock = threading.Lock()

    def _get_resolver(self) -> dns.resolver.Resolver:
        import dns.resolver

        with self._lock:
            if self._resolver is None:
                if self._nameservers:
                    resolver = dns.resolver.Resolver(configure=False)
                    resolver.nameservers = self._nameservers
                    resolver.port = self._port
                else:
                    resolver = dns.resolver.Resolver()  # /etc/resolv.conf
                self._resolver = resolver
            return self._resolver

    def __call__(self, name: str) -> list[str]:
        import dns.exception

        try:
            answer = self._get_resolver().resolve(name, "TXT", lifetime=self._timeout, search=False)
        except (dns.exception.DNSException, OSError):
            # NXDOMAIN, no answer, SERVFAIL/REFUSED, timeout, no resolver configuration.
            return []
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]


class _WellKnownLookup:
    """One well-known lookup in a thread of its own: never queued behind other members' slow
    servers, and bounded by its own deadline, so the thread always ends."""

    def __init__(self, lookup: Callable[[str], str | None], handle: str, slots: threading.BoundedSemaphore) -> None:
        self._done = threading.Event()
        self._did: str | None = None
        self._lookup, self._handle, self._slots = lookup, handle, slots
        threading.Thread(target=self._run, name="handle-well-known", daemon=True).start()

    def _run(self) -> None:
        try:
            self._did = self._lookup(self._handle)
        except Exception:  # noqa: BLE001 - any failure means "no answer from this method"
            self._did = None
        finally:
            self._slots.release()
            self._done.set()

    def result(self, timeout: float) -> str | None:
        self._done.wait(timeout)
        return self._did


class IdentityResolver:
    """Resolves handles and DIDs through the SSRF-safe client; caches answers for 10 minutes.

    `handle_resolver_url`, when set, replaces DNS/well-known handle resolution by that service's
    `com.atproto.identity.resolveHandle` (networks without DNS, like the local test network).
    `dns_nameservers`/`dns_port` point the DNS lookups at given servers instead of the system's
    (a test's own DNS server); `dns_txt` replaces the lookup altogether.
    """

    def __init__(self, *, http: SafeHttpClient, plc_url: str = "https://plc.directory",
                 handle_resolver_url: str | None = None, dns_txt: DnsTxtLookup | None = None,
                 dns_nameservers: Sequence[str] | None = None, dns_port: int = 53,
                 ttl: float = IDENTITY_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.http = http
        self.plc_url = plc_url.rstrip("/")
        self.handle_resolver_url = (handle_resolver_url or "").rstrip("/") or None
        self.dns_txt = dns_txt or DnsTxt(nameservers=dns_nameservers, port=dns_port)
        self.allow_test_tld = http.allow_insecure
        self._handles: TtlCache[str] = TtlCache(ttl, clock)
        self._documents: TtlCache[dict[str, Any]] = TtlCache(ttl, clock)
        self._well_known_slots = threading.BoundedSemaphore(MAX_PARALLEL_WELL_KNOWN)

    # --- handle -> DID ---------------------------------------------------------------
    def resolve_handle(self, handle: str, *, fresh: bool = False) -> str:
        handle = normalize_handle(handle)
        if not is_account_handle(handle, allow_test_tld=self.allow_test_tld):
            raise IdentityResolutionError("That is not a valid Bluesky handle.", code="invalid_handle")
        if not fresh and (did := self._handles.get(handle)):
            return did
        did = self._resolve_handle_uncached(handle)
        self._handles.put(handle, did)
        return did

    def _resolve_handle_uncached(self, handle: str) -> str:
        if self.handle_resolver_url:
            return self._via_resolver_service(handle)
        # Both methods at once, like the reference client; DNS wins (the handle spec: when both
        # answer, the DNS TXT result is preferred). DNS runs in this thread, the well-known lookup in
        # its own: no shared pool, so other members' slow servers never delay this one.
        background = None
        if self._well_known_slots.acquire(blocking=False):
            background = _WellKnownLookup(self._via_well_known, handle, self._well_known_slots)
        did = self._via_dns(handle)
        if did:
            return did
        did = background.result(HANDLE_LOOKUP_TIMEOUT + 1.0) if background else self._via_well_known(handle)
        if did:
            return did
        raise IdentityResolutionError(f"No Bluesky account was found for @{handle}.", code="handle_not_found")

    def _via_dns(self, handle: str) -> str | None:
        records = [r.strip() for r in self.dns_txt(f"_atproto.{handle}")]
        dids = [r[4:] for r in records if r.startswith("did=")]
        if len(dids) > 1:
            raise IdentityResolutionError(f"@{handle} has conflicting DNS records.", code="ambiguous_handle")
        if dids and is_account_did(dids[0], allow_localhost=self.allow_test_tld):
            return dids[0]
        return None

    def _via_well_known(self, handle: str) -> str | None:
        try:
            response = self.http.request("GET", f"https://{handle}/.well-known/atproto-did",
                                         max_bytes=HANDLE_WELL_KNOWN_MAX_BYTES, timeout=HANDLE_LOOKUP_TIMEOUT)
        except AtprotoError:
            return None
        if response.status_code != 200:
            return None
        lines = response.text.strip().splitlines()
        did = lines[0].strip() if lines else ""
        return did if is_account_did(did, allow_localhost=self.allow_test_tld) else None

    def _via_resolver_service(self, handle: str) -> str:
        url = f"{self.handle_resolver_url}/xrpc/com.atproto.identity.resolveHandle"
        try:
            response = self.http.request("GET", url, params={"handle": handle}, expect_json=True)
        except TransportError as exc:
            raise IdentityResolutionError("The handle resolver could not be reached.", code="resolver_down") from exc
        if response.status_code == 400:
            raise IdentityResolutionError(f"No Bluesky account was found for @{handle}.", code="handle_not_found")
        if response.status_code != 200:
            raise IdentityResolutionError("The handle resolver could not be reached.", code="resolver_down")
        did = response.json().get("did", "")
        if not isinstance(did, str) or not is_account_did(did, allow_localhost=self.allow_test_tld):
            raise IdentityResolutionError("The handle resolver gave an invalid answer.", code="invalid_did")
        return did

    # --- DID -> document ---------------------------------------------------------------
    def resolve_did(self, did: str, *, fresh: bool = False, max_age: float | None = None) -> dict[str, Any]:
        """The DID document; `fresh` fetches it, `max_age` accepts only a cached copy that young."""
        # The HTTP client refuses private hosts too; this is the first of the two guards, and the
        # only one that knows `localhost` did:webs exist on test networks alone.
        if not is_account_did(did, allow_localhost=self.allow_test_tld):
            raise IdentityResolutionError("That is not a valid DID.", code="invalid_did")
        if not fresh and (doc := self._documents.get(did, max_age)):
            return doc
        if did.startswith("did:plc:"):
            url = f"{self.plc_url}/{quote(did, safe=':')}"
        else:
            host = unquote(did[len("did:web:"):])
            url = f"https://{host}/.well-known/did.json"
        try:
            response = self.http.request("GET", url, expect_json=True)
        except TransportError as exc:
            raise IdentityResolutionError("The account's identity could not be looked up.",
                                          code="did_unreachable") from exc
        if response.status_code in (404, 410):
            raise IdentityResolutionError("That account does not exist (any more).", code="did_not_found")
        if response.status_code != 200:
            raise IdentityResolutionError("The account's identity could not be looked up.", code="did_unreachable")
        try:
            document = response.json()
        except ValueError as exc:
            raise IdentityResolutionError("The account's DID document is not valid.", code="bad_document") from exc
        if not isinstance(document, dict) or document.get("id") != did:
            raise IdentityResolutionError("The account's DID document does not match its DID.", code="bad_document")
        self._documents.put(did, document)
        return document

    # --- both ways ---------------------------------------------------------------------
    def resolve(self, handle_or_did: str, *, fresh: bool = False) -> ResolvedIdentity:
        """A verified identity. From a handle, the handle must point back; from a DID, an
        unverifiable handle shows as `handle.invalid`."""
        text = handle_or_did.strip()
        if text.startswith("did:"):
            did = text
            document = self.resolve_did(did, fresh=fresh)
            handle, verified = INVALID_HANDLE, False
            for candidate in handles_in(document)[:1]:
                try:
                    if self.resolve_handle(candidate, fresh=fresh) == did:
                        handle, verified = candidate, True
                except IdentityResolutionError:
                    pass
            return ResolvedIdentity(did, handle, pds_endpoint(document, did), verified, document)
        handle = normalize_handle(text)
        did = self.resolve_handle(handle, fresh=fresh)
        document = self.resolve_did(did, fresh=fresh)
        if handle not in handles_in(document):
            raise IdentityResolutionError(f"@{handle} is not confirmed by its account.", code="handle_mismatch")
        return ResolvedIdentity(did, handle, pds_endpoint(document, did), True, document)

    def close(self) -> None:
        """Nothing to release: well-known lookups end on their own deadline."""
