"""Where browser tests keep screenshots for a reviewer, and the "no sideways scroll" check."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def screenshot_dir() -> Path:
    """var/test-artifacts/screenshots/ in the checkout (gitignored); ELONARA_SCREENSHOT_DIR moves it."""
    folder = Path(os.environ.get("ELONARA_SCREENSHOT_DIR") or REPO / "var/test-artifacts/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def page_width(page) -> tuple[int, int]:
    """(the page's scroll width, the window's inner width): the page fits when the first <= the second."""
    width, window = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    return width, window
