"""The invitation composer: limits, shortening and facet byte offsets on awkward text."""

import unicodedata

import pytest
import regex

from bluesky.atproto.syntax import is_valid_tid
from bluesky.records import FACET_LINK, FACET_MENTION, tid_now
from invitations.composer import (
    DEFAULT_TEMPLATE,
    ComposeError,
    compose_invitation,
)

URL = "http://127.0.0.1:8000/events/7/?invitation=AbC_123"
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"


def _graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def _facet_text(post, facet) -> str:
    # Slice by bytes, as a Bluesky client does.
    raw = post.text.encode("utf-8")
    return raw[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode("utf-8")


def _check(post, handle: str) -> None:
    assert _graphemes(post.text) <= 300
    assert len(post.text.encode("utf-8")) <= 3000
    mention = [f for f in post.facets if f["features"][0]["$type"] == FACET_MENTION]
    link = [f for f in post.facets if f["features"][0]["$type"] == FACET_LINK]
    assert len(mention) == 1 and len(link) == 1
    assert _facet_text(post, mention[0]) == "@" + handle
    assert mention[0]["features"][0]["did"] == DID
    assert _facet_text(post, link[0]) == URL
    assert link[0]["features"][0]["uri"] == URL


CASES = [
    ("plain", DEFAULT_TEMPLATE, "Board games night", "Fri 5 Dec"),
    ("emoji in name", DEFAULT_TEMPLATE, "🎉🎲 Party 👩‍👩‍👧‍👦 night 🇫🇷", "Fri 5 Dec"),
    ("cjk", "{mention} 日本語のイベントへようこそ：{name}（{date}）{link}", "東京ボードゲーム会", "12月5日"),
    ("combining marks", "{mention} Ǹ̷̡o̵̢͝ ẑ̸̛a̸̧͝l̷̢̛g̴̡͠o̶̧͝ {name} {link}", "Cafe\u0301 Zoe\u0308", "today"),
    ("rtl", "{mention} مرحبا {name} {date} {link}", "حفلة", "الجمعة"),
    ("no placeholders", "Come along!", "X", "Y"),
    ("link first", "{link} is where {mention} should go for {name}", "Meetup", "Monday"),
]


@pytest.mark.parametrize("label,template,name,date", CASES, ids=[c[0] for c in CASES])
def test_facets_point_at_mention_and_link(label, template, name, date):
    post = compose_invitation(
        template=template, recipient_handle="bob.test", recipient_did=DID, name=name, date=date, url=URL,
        langs=["en"],
    )
    _check(post, "bob.test")
    assert post.langs == ["en"]


@pytest.mark.parametrize(
    "filler",
    ["a" * 1000, "日本語" * 400, "🎉" * 500, "👩‍👩‍👧‍👦" * 400, "e\u0301" * 800, "\U0001f1eb\U0001f1f7" * 400],
    ids=["ascii", "cjk", "emoji", "zwj-family", "combining", "flags"],
)
def test_long_text_is_shortened_never_the_mention_or_link(filler):
    post = compose_invitation(
        template="{mention} " + filler + " for {name} {link}", recipient_handle="bob.test", recipient_did=DID,
        name="Party", date="today", url=URL,
    )
    _check(post, "bob.test")
    assert "…" in post.text
    # Cut on a grapheme boundary: the text before the ellipsis is a prefix of whole clusters.
    before = post.text.split("…")[0][len("@bob.test ") :]
    assert filler.startswith(before)
    assert _graphemes(filler[: len(before)]) == _graphemes(before)


def test_byte_limit_binds_before_grapheme_limit():
    # 4-byte emoji: 300 graphemes would be ~1,200 bytes; with a small byte budget bytes decide.
    post = compose_invitation(
        template="{mention} " + "🎉" * 290 + " {link}", recipient_handle="bob.test", recipient_did=DID,
        name="n", date="d", url=URL, max_bytes=400,
    )
    assert len(post.text.encode()) <= 400
    _check(post, "bob.test")


def test_unicode_handle_offsets():
    # Handles are ASCII, but a non-ASCII name before the mention shifts its byte offset.
    post = compose_invitation(
        template="Café 🎉 {mention} → {link}", recipient_handle="bob.test", recipient_did=DID, name="", date="",
        url=URL,
    )
    _check(post, "bob.test")
    mention = post.facets[0]
    assert mention["index"]["byteStart"] == len("Café 🎉 ".encode())
    assert unicodedata.is_normalized("NFC", post.text)


def test_default_template_names_event_date_and_link():
    post = compose_invitation(
        template="", recipient_handle="@bob.test", recipient_did=DID, name="Board games", date="Fri 5 Dec", url=URL,
    )
    assert post.text.startswith("@bob.test ")
    assert "Board games" in post.text and "Fri 5 Dec" in post.text and post.text.endswith(URL)


def test_impossible_fit_is_a_typed_error():
    with pytest.raises(ComposeError) as info:
        compose_invitation(
            template="{mention} {link}", recipient_handle="bob.test", recipient_did=DID, name="", date="",
            url="http://x.test/" + "a" * 400,
        )
    assert info.value.graphemes > 300


def test_record_shape():
    post = compose_invitation(
        template="", recipient_handle="bob.test", recipient_did=DID, name="N", date="D", url=URL, langs=["en"]
    )
    record = post.as_record()
    assert record["$type"] == "app.bsky.feed.post"
    assert record["createdAt"].endswith("Z")
    assert record["langs"] == ["en"]


def test_tid_format_and_order():
    a = tid_now(now_us=1_700_000_000_000_000, clock_id=5)
    b = tid_now(now_us=1_700_000_000_000_001, clock_id=0)
    assert is_valid_tid(a) and is_valid_tid(b)
    assert a < b
    assert len({tid_now() for _ in range(200)}) == 200


HOST_DID = "did:plc:hosthosthosthosthosthost"


@pytest.mark.parametrize("name", ["Board games night", "🎉 Fête de la musique — Zoë's café 東京", "حفلة 👩‍👩‍👧‍👦"])
def test_relay_post_mentions_the_host_too(name):
    from invitations.composer import RELAY_TEMPLATE

    post = compose_invitation(
        template=RELAY_TEMPLATE, recipient_handle="bob.test", recipient_did=DID, name=name, date="Fri 5 Dec",
        url=URL, host_handle="alice.test", host_did=HOST_DID,
    )
    assert post.text.startswith("@bob.test @alice.test invites you to " + name)
    mentions = [f for f in post.facets if f["features"][0]["$type"] == FACET_MENTION]
    assert [(_facet_text(post, f), f["features"][0]["did"]) for f in mentions] == [
        ("@bob.test", DID), ("@alice.test", HOST_DID)]
    link = [f for f in post.facets if f["features"][0]["$type"] == FACET_LINK]
    assert _facet_text(post, link[0]) == URL


def test_relay_post_host_mention_survives_shortening():
    from invitations.composer import RELAY_TEMPLATE

    post = compose_invitation(
        template=RELAY_TEMPLATE, recipient_handle="bob.test", recipient_did=DID, name="é🎲" * 400, date="Fri",
        url=URL, host_handle="alice.test", host_did=HOST_DID,
    )
    assert _graphemes(post.text) <= 300
    texts = [_facet_text(post, f) for f in post.facets]
    assert texts == ["@bob.test", "@alice.test", URL]


def test_host_without_did_stays_plain_text():
    from invitations.composer import RELAY_TEMPLATE

    post = compose_invitation(
        template=RELAY_TEMPLATE, recipient_handle="bob.test", recipient_did=DID, name="Zoë", date="Fri",
        url=URL, host_handle="alice", host_did="",
    )
    assert "@bob.test alice invites you to Zoë" in post.text
    _check(post, "bob.test")
