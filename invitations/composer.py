"""Composing an invitation post: text, mention and link facets, limits.

Django-free on purpose: it takes plain values, so the tables in tests/invitations/test_composer.py
exercise it without a database. The limits and grapheme counting are `bluesky.records`'.
Bluesky counts a post's length in grapheme clusters (at most 300)
and bytes (at most 3,000 UTF-8 bytes); facet offsets are UTF-8 byte offsets, end exclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext, gettext_noop

from bluesky.records import (
    EMBED_EXTERNAL,
    FACET_LINK,
    FACET_MENTION,
    MAX_BYTES,
    MAX_GRAPHEMES,
    POST_NSID,
    at_datetime,
    grapheme_count,
    graphemes,
)
from core.errors import ApplicationError

ELLIPSIS = "…"

# Placeholders a host may use in their message. {mention} and {link} are never shortened. The
# wordings are English here and translated where a post is composed, in the post's language
# (invitations.services.default_template_for / relay_template_for).
DEFAULT_TEMPLATE = gettext_noop("{mention} you're invited to {name} on {date}. Hope to see you there! {link}")
DEFAULT_COMMUNITY_TEMPLATE = gettext_noop("{mention} you're invited to join {name}. Hope to see you there! {link}")
# The relay account's only wording ({host}: the host's "@handle", a mention of its own, so readers can
# tap through to the person who invites them): the relay speaks for every host, so it never carries a
# host's own text.
RELAY_TEMPLATE = gettext_noop("{mention} {host} invites you to {name} on {date}. Sent for them by Elonara. {link}")
RELAY_COMMUNITY_TEMPLATE = gettext_noop("{mention} {host} invites you to join {name}. Sent for them by Elonara. {link}")
_PLACEHOLDER = re.compile(r"\{(mention|link|name|date|host)\}")



class ComposeError(ApplicationError, ValueError):
    """The post cannot be made to fit, even with the host's text removed."""

    code = "message_too_long"

    def __init__(self, *, reason: str, graphemes: int, byte_length: int) -> None:
        self.reason = reason
        self.graphemes = graphemes
        self.byte_length = byte_length
        super().__init__(f"{reason} ({graphemes} graphemes, {byte_length} bytes)")


@dataclass(frozen=True)
class ComposedPost:
    text: str
    facets: list[dict] = field(default_factory=list)
    langs: list[str] = field(default_factory=list)
    # The link card (`app.bsky.embed.external`), without its thumbnail: the posting account
    # uploads that image itself, just before writing.
    embed: dict | None = None

    def as_record(self, *, created_at: datetime | None = None) -> dict:
        """The `app.bsky.feed.post` record. createdAt is fixed by the caller for idempotent retries."""
        when = (created_at or datetime.now(UTC)).astimezone(UTC)
        record: dict[str, Any] = {
            "$type": POST_NSID,
            "text": self.text,
            "facets": self.facets,
            "createdAt": at_datetime(when),
        }
        if self.langs:
            record["langs"] = self.langs
        if self.embed:
            record["embed"] = self.embed
        return record


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _truncate(text: str, *, max_graphemes: int, max_bytes: int) -> str:
    """The longest prefix of whole graphemes that fits, ending in an ellipsis when shortened."""
    if grapheme_count(text) <= max_graphemes and _byte_len(text) <= max_bytes:
        return text
    ellipsis_bytes = _byte_len(ELLIPSIS)
    if max_graphemes < 1 or max_bytes < ellipsis_bytes:
        return ""
    kept: list[str] = []
    used_bytes = 0
    for cluster in graphemes(text):
        size = _byte_len(cluster)
        if len(kept) + 1 > max_graphemes - 1 or used_bytes + size > max_bytes - ellipsis_bytes:
            break
        kept.append(cluster)
        used_bytes += size
    # Do not leave a dangling space before the ellipsis.
    return "".join(kept).rstrip() + ELLIPSIS


def compose_invitation(
    *,
    template: str,
    recipient_handle: str,
    recipient_did: str,
    name: str,
    date: str,
    url: str,
    langs: list[str] | None = None,
    card_title: str = "",
    card_description: str = "",
    host_handle: str = "",
    host_did: str = "",
    max_graphemes: int = MAX_GRAPHEMES,
    max_bytes: int = MAX_BYTES,
) -> ComposedPost:
    """Fill the host's template; shorten only the free text (theirs and the event name/date).

    A template lacking {mention} gets it in front, one lacking {link} gets it at the end: the
    mention is the invitation and the link is where it leads, so neither is ever dropped.
    With `card_title`, the post carries a link card for `url` (title and one-line description).
    {host} is `host_handle`: a mention of `host_did` (never shortened) when both are known, else
    plain text (a host without a Bluesky account is named by their username).
    """
    template = _template_complete(template)
    mention_text = "@" + recipient_handle.lstrip("@")
    host_text = "@" + host_handle.lstrip("@") if host_handle and host_did else host_handle
    segments = _segments(template, mention_text=mention_text, host_text=host_text,
                         host_mentioned=bool(host_did and host_handle), url=url, name=name, date=date)
    free_graphemes, free_bytes, reserve = _free_budget(segments, max_graphemes=max_graphemes, max_bytes=max_bytes)
    dids = {"mention": recipient_did, "host": host_did}

    text_parts: list[str] = []
    facets: list[dict] = []
    byte_offset = 0
    budget_exhausted = False
    for kind, text in segments:
        if kind == "free":
            text, budget_exhausted = _free_text_fit(text, free_graphemes=free_graphemes, free_bytes=free_bytes,
                                                    reserve=reserve, exhausted=budget_exhausted)
            free_graphemes -= grapheme_count(text)
            free_bytes -= _byte_len(text)
        else:
            feature = ({"$type": FACET_LINK, "uri": url} if kind == "link"
                       else {"$type": FACET_MENTION, "did": dids[kind]})
            facets.append({"index": {"byteStart": byte_offset, "byteEnd": byte_offset + _byte_len(text)},
                           "features": [feature]})
        text_parts.append(text)
        byte_offset += _byte_len(text)

    # Only trailing whitespace is dropped: facets index from the start, so they stay valid.
    full = "".join(text_parts).rstrip()
    embed = None
    if card_title:
        embed = {"$type": EMBED_EXTERNAL,
                 "external": {"uri": url, "title": card_title, "description": card_description}}
    return ComposedPost(text=full, facets=facets, langs=list(langs or []), embed=embed)


def _template_complete(template: str) -> str:
    """The host's template with {mention} in front and {link} at the end when it lacks them."""
    template = template.strip() or gettext(DEFAULT_TEMPLATE)
    if "{mention}" not in template:
        template = "{mention} " + template
    if "{link}" not in template:
        template = template + " {link}"
    return template


def _segments(template: str, *, mention_text: str, host_text: str, host_mentioned: bool, url: str,
              name: str, date: str) -> list[tuple[str, str]]:
    """The template cut at its placeholders: (kind, text), kind "mention", "host", "link" (never
    shortened, each a facet) or "free" (the host's words, the event's name and date)."""
    segments: list[tuple[str, str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > position:
            segments.append(("free", template[position : match.start()]))
        key = match.group(1)
        if key == "mention":
            segments.append(("mention", mention_text))
        elif key == "host":
            segments.append(("host", host_text) if host_mentioned else ("free", host_text))
        elif key == "link":
            segments.append(("link", url))
        else:
            segments.append(("free", name if key == "name" else date))
        position = match.end()
    if position < len(template):
        segments.append(("free", template[position:]))
    return segments


def _free_budget(segments: list[tuple[str, str]], *, max_graphemes: int, max_bytes: int) -> tuple[int, int, int]:
    """What the free text may use (graphemes, bytes) and the reserve kept for separators; raises
    `ComposeError` when the fixed parts alone do not fit."""
    fixed_graphemes = sum(grapheme_count(t) for k, t in segments if k != "free")
    fixed_bytes = sum(_byte_len(t) for k, t in segments if k != "free")
    if fixed_graphemes > max_graphemes or fixed_bytes > max_bytes:
        raise ComposeError(reason="mention and link alone exceed the post limits",
                           graphemes=fixed_graphemes, byte_length=fixed_bytes)
    # One grapheme per fixed part is kept back for the space that separates it from the rest.
    separators = sum(1 for k, _ in segments if k != "free")
    free_graphemes = max_graphemes - fixed_graphemes - separators
    free_bytes = max_bytes - fixed_bytes - separators
    if free_graphemes < 0 or free_bytes < 0:
        raise ComposeError(reason="mention and link alone exceed the post limits",
                           graphemes=fixed_graphemes, byte_length=fixed_bytes)
    return free_graphemes + separators, free_bytes + separators, separators


def _free_text_fit(text: str, *, free_graphemes: int, free_bytes: int, reserve: int,
                   exhausted: bool) -> tuple[str, bool]:
    """One free segment shortened to what is left: (its text, whether the budget is now spent)."""
    if exhausted:
        # Past the cut, free text shrinks to a separating space.
        return (" " if text and free_graphemes >= 1 and free_bytes >= 1 else ""), True
    shortened = _truncate(text, max_graphemes=free_graphemes - reserve, max_bytes=free_bytes - reserve)
    if shortened == text:
        return text, False
    if free_graphemes - grapheme_count(shortened) >= 1 and free_bytes - _byte_len(shortened) >= 1:
        shortened += " "
    return shortened, True
