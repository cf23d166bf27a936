"""Fill one entry of a catalogue in place, keeping the file's own wrapping (polib would rewrap
every entry): drops the entry's fuzzy flag and its `#|` previous-msgid lines, sets its msgstr.

    .venv/bin/python scripts/po_fill.py locale/de/LC_MESSAGES/django.po "msgid text" "translation"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def po_fill(path: Path, msgid: str, msgstr: str) -> None:
    lines = path.read_text().split("\n")
    quoted = f"msgid {json.dumps(msgid, ensure_ascii=False)}"
    at = lines.index(quoted)
    start = at
    while start > 0 and lines[start - 1].startswith("#"):
        start -= 1
    comments = []
    for line in lines[start:at]:
        if line.startswith("#|"):
            continue
        if line.startswith("#,"):
            flags = [f.strip() for f in line[2:].split(",") if f.strip() != "fuzzy"]
            if not flags:
                continue
            line = "#, " + ", ".join(flags)
        comments.append(line)
    end = at + 1
    while end < len(lines) and lines[end].startswith('"'):
        end += 1  # a wrapped msgid
    stop = end + 1
    while stop < len(lines) and lines[stop].startswith('"'):
        stop += 1  # the old msgstr, wrapped
    lines[start:stop] = [*comments, *lines[at:end], f"msgstr {json.dumps(msgstr, ensure_ascii=False)}"]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    po_fill(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
