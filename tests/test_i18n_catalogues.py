"""Issue 39: every word a template shows is marked for translation, and every catalogue we call
complete really is.

(a) The visible text of each template (text between tags, and the attributes a person sees or
hears: alt, title, placeholder, aria-label, a button's value, the page's description) is read
outside `{% translate %}` / `{% blocktranslate %}`; anything with a letter in it is an unmarked
string. Template tags, `{{ values }}`, comments, `<script>` and `<style>` bodies, and attributes
nobody sees (class, id, href, name, type, data-*, hidden values) are not text.

(b) A catalogue named in `locale/COMPLETE` has no untranslated or fuzzy entry, and each
translation carries exactly the placeholders of its msgid (a dropped `%(name)s` is a lost value, a
new one a crash at render time).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
LOCALE = ROOT / "locale"

# Names that stay as they are in every language: the product's own, the network's, UTC.
NOT_TRANSLATED = frozenset({"Elonara", "Bluesky", "UTC"})

# Folders whose marking is another change's work (issue 39 is split in parts); the lead empties
# this once they are merged. Everything else must be marked now.
NOT_YET_MARKED: frozenset[str] = frozenset()

_NAMES = re.compile(r"\b(?:" + "|".join(sorted(NOT_TRANSLATED)) + r")\b")
_COMMENT_BLOCK = re.compile(r"{%\s*comment\b.*?%}.*?{%\s*endcomment\s*%}", re.S)
_COMMENT = re.compile(r"{#.*?#}", re.S)
_BLOCKTRANSLATE = re.compile(
    r"{%\s*blocktrans(?:late)?\b.*?%}.*?{%\s*endblocktrans(?:late)?\s*%}", re.S)
_TAG = re.compile(r"{%.*?%}", re.S)
_VARIABLE = re.compile(r"{{.*?}}", re.S)
# A block that fills in attributes of the parent's tag (`{% block main_class %} class="narrow"`).
_ATTRIBUTES_ONLY = re.compile(r'^(?:\s*[\w-]+="[^"]*")+\s*$')
_LETTER = re.compile(r"[^\W\d_]")

# Attributes whose value is read out or shown; every other attribute is machinery.
_SHOWN_ATTRIBUTES = frozenset({"alt", "title", "placeholder", "aria-label", "aria-description",
                               "aria-roledescription", "aria-valuetext", "label"})
_SHOWN_INPUT_VALUES = frozenset({"submit", "button", "reset"})
_SHOWN_META = frozenset({"description", "og:title", "og:description", "og:site_name",
                         "og:image:alt", "twitter:title", "twitter:description",
                         "twitter:image:alt"})


# Words handed to a template as string literals inside tags: an include's label or title, a
# default shown when a value is empty. Marked ones are written `_("...")`.
_TAG_STRINGS = re.compile(
    r'(?:\b(?:label|title|text|heading|caption|message|help|empty)=|\|default:)"([^"]*)"')


def tag_strings(source: str) -> list[str]:
    source = _COMMENT.sub(" ", _COMMENT_BLOCK.sub(" ", source))
    tags = _TAG.findall(source) + _VARIABLE.findall(source)
    return [text for tag in tags for text in _TAG_STRINGS.findall(tag)]


def template_text(source: str) -> str:
    """The template with its comments, marked strings, tags and values taken out. Each becomes a
    space or an empty string: a value inside a word must not split it into "words" of its own."""
    source = _COMMENT_BLOCK.sub(" ", source)
    source = _COMMENT.sub(" ", source)
    source = _BLOCKTRANSLATE.sub(" ", source)
    source = _TAG.sub(" ", source)
    return _VARIABLE.sub(" ", source)


class _ShownText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden_depth += 1
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name in _SHOWN_ATTRIBUTES:
                self.found.append(value)
        if tag == "input" and values.get("type", "text") in _SHOWN_INPUT_VALUES:
            self.found.append(values.get("value", ""))
        if tag == "meta" and (values.get("name") or values.get("property")) in _SHOWN_META:
            self.found.append(values.get("content", ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._hidden_depth -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.found.append(data)


def unmarked_strings(source: str, *, html: bool = True) -> list[str]:
    """The visible strings of a template left outside translate/blocktranslate, in order."""
    text = template_text(source)
    chunks: list[str] = tag_strings(source)
    if html:
        parser = _ShownText()
        parser.feed(text)
        parser.close()
        chunks += parser.found
    else:
        chunks.append(text)
    found = []
    for chunk in chunks:
        for line in chunk.splitlines():
            words = " ".join(line.split())
            if _LETTER.search(_NAMES.sub("", _ATTRIBUTES_ONLY.sub("", words))):
                found.append(words)
    return found


def _templates() -> list[Path]:
    return sorted(path for path in TEMPLATES.rglob("*")
                  if path.suffix in (".html", ".txt")
                  and path.relative_to(TEMPLATES).parts[0] not in NOT_YET_MARKED)


def test_every_template_string_is_marked() -> None:
    unmarked = []
    for path in _templates():
        # Mail's text parts and subjects are plain text: every letter there is read.
        strings = unmarked_strings(path.read_text(), html=path.suffix == ".html")
        unmarked += [f"{path.relative_to(TEMPLATES)}: {text!r}" for text in strings]
    assert not unmarked, "Strings not marked for translation:\n" + "\n".join(unmarked)


@pytest.mark.parametrize(("source", "expected"), [
    ("<p>Going</p>", ["Going"]),
    ('{% load i18n %}<p>{% translate "Going" context "answer" %}</p>', []),
    ("{% blocktranslate with n=event.title %}See {{ n }} soon{% endblocktranslate %}", []),
    ('<img src="{{ url }}" alt="Cover" class="cover big">', ["Cover"]),
    ('<input type="hidden" name="next" value="home"><input type="submit" value="Send">', ["Send"]),
    ('<a href="/x" title="{% translate "Open" %}" data-label="Place">{{ name }}</a>', []),
    ("<script>const label = 'Hello';</script><style>p::after{content:'x'}</style>", []),
    ("{% comment %}Why this{% endcomment %}{# also #}<!-- not shown -->", []),
    ("<p>{{ a }} · {{ b }} × 2 → 3</p>", []),
    ('{% include "_button.html" with url=u label="See the event" %}{{ p|default:"(none)" }}',
     ["See the event", "(none)"]),
    ('{% include "_button.html" with url=u label=_("See the event") %}{{ p|default:_("none") }}', []),
    ('<meta name="description" content="Events near you"><meta name="viewport" content="width">',
     ["Events near you"]),
])
def test_the_extractor_reads_what_people_see(source: str, expected: list[str]) -> None:
    assert unmarked_strings(source) == expected


def test_the_test_fails_on_a_newcomers_unmarked_template(tmp_path: Path) -> None:
    newcomer = '{% extends "base.html" %}{% load i18n %}{% block content %}<h1>{% translate "Hi" %}</h1>' \
               "<p>Welcome to {{ event.title }}!</p>{% endblock %}"
    assert unmarked_strings(newcomer) == ["Welcome to !"]


def _placeholders(text: str) -> list[str]:
    # Python %-style named (and bare) placeholders, and str.format's {name}.
    named = re.findall(r"%\(\w+\)[sd]|%[sd]", text)
    braces = re.findall(r"(?<!{){\w*}(?!})", text)
    return sorted(named + braces)


def _complete_languages() -> list[str]:
    listed = LOCALE / "COMPLETE"
    if not listed.exists():
        return []
    lines = (line.split("#", 1)[0].strip() for line in listed.read_text().splitlines())
    return [line for line in lines if line]


_COUNTS = frozenset({"%(counter)s", "%(count)s", "%d", "{count}"})


def catalogue_problems(po: polib.POFile) -> list[str]:
    # A fuzzy header is dropped by msgfmt, and its Plural-Forms with it.
    problems = ["fuzzy header"] if po.metadata_is_fuzzy else []
    # Each language has its own number of plural forms (Japanese one, Spanish three).
    plural_forms = re.search(r"nplurals\s*=\s*(\d+)", po.metadata.get("Plural-Forms", ""))
    forms = int(plural_forms.group(1)) if plural_forms else 2
    for entry in po:
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
            continue
        translations = ([entry.msgstr_plural.get(form, "") for form in range(forms)]
                        if entry.msgid_plural else [entry.msgstr])
        if not all(translations):
            problems.append(f"untranslated: {entry.msgid!r}")
            continue
        wanted = set(_placeholders(entry.msgid)) | set(_placeholders(entry.msgid_plural or ""))
        # A plural form may leave the count out (Japanese "one event" says no number), nothing else.
        required = wanted - _COUNTS if entry.msgid_plural else wanted
        for translation in translations:
            have = set(_placeholders(translation))
            if not required <= have <= wanted:
                problems.append(f"placeholders {sorted(have)} for {sorted(wanted)}: {entry.msgid!r}")
    return problems


@pytest.mark.parametrize("language", _complete_languages())
def test_a_complete_catalogue_has_every_entry_translated(language: str) -> None:
    path = LOCALE / language / "LC_MESSAGES" / "django.po"
    assert path.exists(), f"locale/COMPLETE names {language} but {path} is missing"
    problems = catalogue_problems(polib.pofile(str(path)))
    assert not problems, f"{language}:\n" + "\n".join(problems)
    # What the set-up runs (compilemessages): a catalogue polib reads may still be one msgfmt
    # refuses (e.g. a "#|" line left without its msgid), and then no page is translated.
    if shutil.which("msgfmt"):
        checked = subprocess.run(["msgfmt", "--check-format", "-o", "/dev/null", str(path)],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, f"{language}: msgfmt refuses it:\n{checked.stderr}"


def test_the_catalogue_check_finds_missing_fuzzy_and_wrong_placeholders() -> None:
    po = polib.POFile()
    po.metadata_is_fuzzy = True
    po.metadata["Plural-Forms"] = "nplurals=2; plural=(n != 1);"
    po.append(polib.POEntry(msgid="Going", msgstr="参加"))
    po.append(polib.POEntry(msgid="Maybe", msgstr=""))
    po.append(polib.POEntry(msgid="Not going", msgstr="Nein", flags=["fuzzy"]))
    po.append(polib.POEntry(msgid="Hosted by %(name)s", msgstr="Gastgeber: %(nom)s"))
    po.append(polib.POEntry(msgid="{count} guests", msgstr="{count} Gäste"))
    po.append(polib.POEntry(msgid="%(counter)s event", msgid_plural="%(counter)s events",
                            msgstr_plural={0: "ein Termin", 1: "%(counter)s Termine"}))
    assert catalogue_problems(po) == [
        "fuzzy header",
        "untranslated: 'Maybe'",
        "fuzzy: 'Not going'",
        "placeholders ['%(nom)s'] for ['%(name)s']: 'Hosted by %(name)s'",
    ]
