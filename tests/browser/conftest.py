"""A real browser: Debian's chromium driven by Playwright (never `playwright install`)."""

import os
import shutil
import tempfile

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
BASE_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
# test itself (not the server) are then flagged as async-unsafe although they are not.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def launch_browser():
    """Returns a function launching chromium with extra args; everything is closed after the test."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    manager = sync_playwright().start()
    opened = []

    def launch(*extra_args: str):
        profile = tempfile.mkdtemp(prefix="elonara-chromium-")
        context = manager.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=[*BASE_ARGS, *extra_args],
        )
        opened.append((context, profile))
        return context

    yield launch
    for context, profile in opened:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)
    manager.stop()


@pytest.fixture
def page(launch_browser):
    context = launch_browser()
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(15_000)
    return page
