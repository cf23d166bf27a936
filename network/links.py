"""What a member may paste to show a network event, parsed without fetching anything.

Accepted:
- `at://<did or handle>/community.lexicon.calendar.event/<rkey>`: the record itself.
- `https://<host>/<did or handle>/<rkey>` on a host of `NETWORK_EVENT_LINK_HOSTS` (default
  `smokesignal.events`): Smoke Signal's event pages name the record's repository and key in
  their path, so the link says which record it is.

Not accepted: pages whose path does not name the record, such as OpenMeet's
`/events/<slug>` (the slug is the app's own id: only that app's API could map it to a record),
and any other web page. We never fetch a pasted web page to look for a record in it: that would
let anyone make the server fetch arbitrary URLs; only the repository's own PDS is asked, for
the record named by the link.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.utils.translation import gettext_noop

from bluesky.atproto.nsid import EVENT_NSID
from bluesky.atproto.syntax import is_account_did, is_account_handle, is_valid_record_key


class LinkNotUnderstood(ValueError):
    """The text is not a link we can map to an event record."""


@dataclass(frozen=True)
class RecordLink:
    authority: str  # a DID or a handle (resolved to a DID before use)
    rkey: str

    @property
    def is_did(self) -> bool:
        return self.authority.startswith("did:")


def _authority(text: str, *, allow_test_tld: bool) -> str:
    text = unquote(text).strip().removeprefix("@")
    if text.startswith("did:"):
        if is_account_did(text, allow_localhost=allow_test_tld):
            return text
    elif is_account_handle(text.lower(), allow_test_tld=allow_test_tld):
        return text.lower()
    raise LinkNotUnderstood(gettext_noop("The link does not name an account."))


def link_parse(text: str, *, app_hosts: tuple[str, ...], allow_test_tld: bool = False) -> RecordLink:
    text = (text or "").strip()
    if len(text) > 2048:
        raise LinkNotUnderstood(gettext_noop("That link is too long."))
    if text.startswith("at://"):
        parts = text.removeprefix("at://").split("?")[0].split("#")[0].split("/")
        if len(parts) != 3 or parts[1] != EVENT_NSID:
            raise LinkNotUnderstood(gettext_noop("That at:// link does not name a calendar event record."))
        authority, rkey = parts[0], parts[2]
    elif text.startswith("https://"):
        url = urlsplit(text)
        if (url.hostname or "").lower() not in app_hosts or url.port not in (None, 443):
            raise LinkNotUnderstood(
                gettext_noop("Links from that site cannot be read here; paste the event's at:// link."))
        parts = [p for p in url.path.split("/") if p]
        if len(parts) != 2:
            raise LinkNotUnderstood(gettext_noop("That page does not name an event record."))
        authority, rkey = parts
    else:
        raise LinkNotUnderstood(gettext_noop("Paste an at:// link or the address of an event page."))
    if not is_valid_record_key(rkey):
        raise LinkNotUnderstood(gettext_noop("That link does not name an event record."))
    return RecordLink(authority=_authority(authority, allow_test_tld=allow_test_tld), rkey=rkey)
