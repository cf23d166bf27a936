"""Every page of every flow in a real browser, as a visitor, a host and an invitee, at the widths
people use (360 and 390 px phones, a 768 px tablet, a 1280 px desktop):

- nothing scrolls sideways (the page is never wider than the window);
- axe-core finds no violation of impact "moderate", "serious" or "critical" (light and dark
  colours), heading order included, also on pages that carry a flash message;
- nothing moves once shown: the cumulative layout shift of the load stays under 0.05;
- on a phone, the invitation's one action is on the first screen;
- screenshots of the main pages at 390 and 1280 px are kept for a reviewer, in
  var/test-artifacts/screenshots/ (printed at the end; ELONARA_SCREENSHOT_DIR moves it).

axe-core is the npm package pinned in tests/browser/package-lock.json, installed outside the
repository by scripts/npm-install-cached.sh (`make test` runs it; this test runs it too when the
cache is cold) and evaluated in the page through the DevTools protocol, so a Content Security
Policy on our pages does not stop it.
"""

from __future__ import annotations

import json
import subprocess
from functools import partial
from pathlib import Path

import pytest
from django.test import Client

from tests.browser.artifacts import REPO, page_width, screenshot_dir
from tests.browser.site import build_site, pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (360, 390, 768, 1280)
PHONE = {"width": 390, "height": 844}
SCREENSHOT_WIDTHS = (390, 1280)
MAIN_PAGES = {
    "home", "invitation-landing", "community-invitation-landing", "event", "event-host", "event-long-words",
    "community", "communities", "login", "signup", "profile", "picker", "progress", "calendar-feed", "event-new",
    "event-people", "event-checkin", "event-ticket",
}
BLOCKING = ("moderate", "serious", "critical")
MAX_LAYOUT_SHIFT = 0.05


def _axe_source() -> str:
    subprocess.run([str(REPO / "scripts/npm-install-cached.sh"), str(REPO / "tests/browser")], check=True)
    cache = subprocess.run([str(REPO / "scripts/npm-install-cached.sh"), str(REPO / "tests/browser"), "--print-dir"],
                           check=True, capture_output=True, text=True).stdout.strip()
    return (Path(cache) / "node_modules/axe-core/axe.min.js").read_text()


def _sign_in(context, base: str, member) -> None:
    client = Client()
    client.force_login(member)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])


def _axe(page, axe_source: str) -> list[dict]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(f"() => {{ {axe_source}\n }}")
    result = page.evaluate("async () => JSON.stringify(await window.axe.run(document, {resultTypes: ['violations']}))")
    return [v for v in json.loads(result)["violations"] if v.get("impact") in BLOCKING]


# Every Content-Security-Policy violation of the page, from the browser's own event: collected by a
# script Playwright adds before the page's (not subject to the page's policy).
CSP_COLLECTOR = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${where}`);
});
"""


# The page's cumulative layout shift (shifts not caused by input), from the browser's own entries.
LAYOUT_SHIFT_COLLECTOR = """
window.__layoutShift = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) { if (!entry.hadRecentInput) { window.__layoutShift += entry.value; } }
}).observe({type: 'layout-shift', buffered: true});
"""


def _layout_shift(page) -> float:
    page.wait_for_timeout(100)  # site.js runs on DOMContentLoaded; its changes are reported just after
    return page.evaluate("() => window.__layoutShift || 0")


def _note_csp_message(console: list[str], page, message) -> None:
    if "Content Security Policy" in message.text:
        console.append(f"{page.url}: {message.text}")


def _csp_violations(page) -> list[str]:
    # The event is dispatched after the violation: let the page settle first.
    page.wait_for_timeout(50)
    return page.evaluate("() => (window.__cspViolations || []).splice(0)")


def _check(page, where: str, axe_source: str) -> list[str]:
    problems = [f"{where}: Content-Security-Policy: {v}" for v in _csp_violations(page)]
    wide = page_width(page)
    if wide[0] > wide[1]:
        problems.append(f"{where}: {wide[0]} px wide in a {wide[1]} px window (scrolls sideways)")
    problems.extend(f"{where}: {_describe(v)}" for v in _axe(page, axe_source))
    return problems


def _create_api_token(page) -> None:
    page.get_by_label("Name").fill("My calendar script")
    page.get_by_label("Read (events").check()
    page.get_by_role("button", name="Create API token").click()
    page.wait_for_selector("#api-token-secret")


def _submit(button: str):
    return lambda page: page.get_by_role("button", name=button, exact=True).click()


def _save_profile(page) -> None:
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector(".messages")


def _sign_up(page) -> None:
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Email").fill("dora@example.org")
    page.locator("#id_password1").fill("correct-horse-battery-9")
    page.locator("#id_password2").fill("correct-horse-battery-9")
    page.get_by_role("button", name="Sign up", exact=True).click()
    page.wait_for_selector(".messages")


def _wrong_password(page) -> None:
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Log in", exact=True).click()


AFTER_A_POST = {
    "visitor": [
        ("signup-errors", "/members/signup/", _submit("Sign up")),
        ("login-errors", "/members/login/", _wrong_password),
        ("signed-up-message", "/members/signup/", _sign_up),  # last: signs the visitor in
    ],
    "host": [
        ("api-token-created", "/members/alice/", _create_api_token),
        ("event-new-errors", "/events/new/", _submit("Publish event")),
        ("profile-saved-message", "/members/me/edit/", _save_profile),
    ],
    "invitee": [
        ("profile-saved-message", "/members/me/edit/", _save_profile),
    ],
}


def _describe(violation: dict) -> str:
    targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
    return f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}"


def _the_checks_can_fail(launch_browser, base, axe_source):
    """The checks below can fail: axe, as injected here, reports a page with known faults; and
    the width, layout-shift and policy measures each catch a fault made on purpose."""
    probe = launch_browser().new_page()
    probe.set_content('<html lang="en"><head><title>t</title></head><body><main><h1>Page</h1><h3>Skipped</h3>'
                      '<img src="data:,"><button></button><p style="color:#ccc">faint</p>'
                      '<ul role="status"><li>Saved.</li></ul></main></body></html>')
    assert {v["id"] for v in _axe(probe, axe_source)} >= {"image-alt", "button-name", "color-contrast",
                                                          "heading-order", "listitem"}
    probe.set_viewport_size({"width": 360, "height": 640})
    probe.set_content('<div style="width:900px">wide</div>')
    assert probe.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
    # The layout-shift measure: a block pushed in above the text after load is counted.
    shifting = launch_browser()
    shifting.add_init_script(LAYOUT_SHIFT_COLLECTOR)
    shifted = shifting.new_page()
    shifted.set_viewport_size({"width": 390, "height": 800})
    shifted.goto(base + "/terms/", wait_until="load")
    shifted.evaluate("() => { const b = document.createElement('div'); b.style.height = '300px'; "
                     "document.querySelector('main').prepend(b); }")
    assert _layout_shift(shifted) > MAX_LAYOUT_SHIFT
    shifting.close()
    # And the policy check: an inline style added to one of our pages is reported.
    probe.context.add_init_script(CSP_COLLECTOR)
    probe.goto(base + "/", wait_until="load")
    assert _csp_violations(probe) == []
    probe.evaluate("() => { const s = document.createElement('style'); s.textContent = 'p {}'; "
                   "document.head.appendChild(s); }")
    assert any("style-src" in v for v in _csp_violations(probe))


def _after_a_post_problems(page, base, role, axe_source, shots) -> list[str]:
    """Pages that only a form's answer shows: errors beside their fields, a token shown once."""
    problems: list[str] = []
    for name, path, act in AFTER_A_POST.get(role, []):
        page.set_viewport_size({"width": WIDTHS[0], "height": 800})
        page.goto(base + path)
        act(page)
        page.wait_for_load_state()
        if name.endswith("-message"):
            assert page.locator("[role=status] li.message").count(), name  # the page carries one
        for width in (WIDTHS[0], WIDTHS[-1]):
            page.set_viewport_size({"width": width, "height": 800})
            problems.extend(_check(page, f"{role} {name} at {width} px", axe_source))
            if width == WIDTHS[-1]:
                page.screenshot(path=str(shots / f"{role}-{name}-{width}.png"), full_page=True)
    return problems


def test_every_page_fits_every_width_and_passes_axe(live_server, launch_browser):
    base = live_server.url.replace("localhost", "127.0.0.1")
    site = build_site()
    axe_source = _axe_source()
    shots = screenshot_dir()
    members = {"visitor": None, "host": site.alice, "invitee": site.bob}
    problems: list[str] = []
    checked = 0

    _the_checks_can_fail(launch_browser, base, axe_source)

    for role, role_pages in pages(site).items():
        context = launch_browser()
        context.add_init_script(CSP_COLLECTOR)
        context.add_init_script(LAYOUT_SHIFT_COLLECTOR)
        console: list[str] = []
        if members[role] is not None:
            _sign_in(context, base, members[role])
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(20_000)
        # Chromium also says so on the console (e.g. for a blocked resource the event may miss).
        page.on("console", partial(_note_csp_message, console, page))
        for name, path in role_pages:
            # One load per page, at a phone's width, then the window resized in place: every width
            # checked without reloading (the layout is the stylesheet's, not the server's).
            page.set_viewport_size({"width": WIDTHS[0], "height": 800})
            response = page.goto(base + path, wait_until="load")
            expected = 400 if name.endswith("bad-link") else 200  # a refused link says why, as a 400
            if response is None or response.status != expected:
                problems.append(f"{role} {name} ({path}): HTTP {response.status if response else 'no response'}")
                continue
            if (shift := _layout_shift(page)) >= MAX_LAYOUT_SHIFT:
                problems.append(f"{role} {name} ({path}): layout shift {shift:.3f} (at most {MAX_LAYOUT_SHIFT})")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 800 if width < 768 else 900})
                where = f"{role} {name} ({path}) at {width} px"
                problems.extend(_check(page, where, axe_source))
                if width in SCREENSHOT_WIDTHS and name in MAIN_PAGES:
                    page.screenshot(path=str(shots / f"{role}-{name}-{width}.png"), full_page=True)
                checked += 1
            # Dark colours keep their contrast too (once per page, at a phone's width).
            page.emulate_media(color_scheme="dark")
            page.set_viewport_size(PHONE)
            page.wait_for_timeout(250)  # buttons ease their colours in (.12 s): read them settled
            problems.extend(f"{role} {name} (dark, 390 px): {_describe(v)}" for v in _axe(page, axe_source))
            if name in MAIN_PAGES and name in ("home", "invitation-landing", "event"):
                page.screenshot(path=str(shots / f"{role}-{name}-390-dark.png"), full_page=True)
            page.emulate_media(color_scheme="light")
        problems.extend(_after_a_post_problems(page, base, role, axe_source, shots))
        context.close()
        problems.extend(f"{role}: console: {line}" for line in console)

    print(f"\nscreenshots: {shots}")
    assert checked == sum(len(p) for p in pages(site).values()) * len(WIDTHS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", ["ja", "de"])
def test_every_page_in_japanese_and_german_fits_every_width_and_passes_axe(live_server, launch_browser, language):
    # Japanese (line breaking without spaces) and German (long words) on every page, chosen as a
    # visitor would with the footer's menu (its cookie); <html lang> says it, nothing overflows.
    from django.conf import settings

    base = live_server.url.replace("localhost", "127.0.0.1")
    site = build_site()
    axe_source = _axe_source()
    shots = screenshot_dir()
    members = {"visitor": None, "host": site.alice, "invitee": site.bob}
    problems: list[str] = []
    for role, role_pages in pages(site).items():
        context = launch_browser()
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base}])
        if members[role] is not None:
            _sign_in(context, base, members[role])
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(20_000)
        for name, path in role_pages:
            page.set_viewport_size({"width": WIDTHS[0], "height": 800})
            response = page.goto(base + path, wait_until="load")
            expected = 400 if name.endswith("bad-link") else 200
            if response is None or response.status != expected:
                problems.append(f"{language} {role} {name} ({path}): HTTP {response.status if response else '-'}")
                continue
            if (lang := page.evaluate("document.documentElement.lang")) != language:
                problems.append(f"{language} {role} {name} ({path}): <html lang={lang!r}>")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 800 if width < 768 else 900})
                problems.extend(_check(page, f"{language} {role} {name} ({path}) at {width} px", axe_source))
                if width in SCREENSHOT_WIDTHS and name in MAIN_PAGES:
                    page.screenshot(path=str(shots / f"{language}-{role}-{name}-{width}.png"), full_page=True)
        context.close()
    print(f"\nscreenshots: {shots}")
    assert not problems, "\n".join(problems)


def test_on_a_phone_the_invitation_leads_with_the_event_and_its_one_action(live_server, launch_browser):
    """From the post to "Going" on a 390 x 844 screen: the event first, then the action, all on
    the first screen, and the header's links behind "Menu"."""
    base = live_server.url.replace("localhost", "127.0.0.1")
    site = build_site()
    landing = f"{base}{site.event.get_absolute_url()}?invitation={site.invitation.token}"

    visitor = launch_browser().new_page()
    visitor.set_viewport_size(PHONE)
    visitor.goto(landing)
    title = visitor.get_by_role("heading", level=1)
    assert title.inner_text() == "Harbour lights walk"
    cont = visitor.get_by_role("button", name="Continue with Bluesky")
    assert visitor.get_by_label("Your Bluesky handle").input_value() == "bob.test"
    box = cont.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], box
    assert title.bounding_box()["y"] < box["y"]
    # The host as the post named them: display name and Bluesky handle (not the username).
    banner = visitor.locator("#invitation-banner").inner_text()
    assert "Alice Lindqvist" in banner and "@alice.test invited you" in banner
    # "Stop invitations" stays, quietly: a closed disclosure below the action.
    stop = visitor.locator("#stop-invitations summary")
    assert stop.is_visible() and stop.bounding_box()["y"] > box["y"]
    # The header folds: links hidden until "Menu" opens them (and Escape closes them).
    assert not visitor.get_by_role("link", name="Communities").is_visible()
    visitor.get_by_role("button", name="Menu").click()
    assert visitor.get_by_role("link", name="Communities").is_visible()
    assert visitor.get_by_role("button", name="Menu").get_attribute("aria-expanded") == "true"
    visitor.keyboard.press("Escape")
    assert not visitor.get_by_role("link", name="Communities").is_visible()

    invitee_context = launch_browser()
    _sign_in(invitee_context, base, site.bob)
    invitee = invitee_context.new_page()
    invitee.set_viewport_size(PHONE)
    invitee.goto(landing)
    going = invitee.locator("#invitation-answer").get_by_role("button", name="Going", exact=True)
    box = going.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], box
    going.click()
    invitee.wait_for_url(f"{base}{site.event.get_absolute_url()}")
    assert invitee.locator("#my-rsvp").inner_text().startswith("Your answer: Going")
    # On the event page itself the answer comes before the details, on the first screen.
    pressed = invitee.locator(".rsvp-form [aria-pressed=true]")
    assert pressed.inner_text() == "Going"
    assert pressed.bounding_box()["y"] + pressed.bounding_box()["height"] <= PHONE["height"]


def test_forms_tie_errors_and_help_to_their_fields(live_server, page):
    """A failed sign-up: each error is announced with its field (aria-describedby, aria-invalid)."""
    base = live_server.url
    page.goto(f"{base}/members/signup/")
    page.get_by_label("Username").fill("x y")
    page.get_by_role("button", name="Sign up").click()
    username = page.get_by_label("Username")
    assert username.get_attribute("aria-invalid") == "true"
    described = username.get_attribute("aria-describedby").split()
    texts = [page.locator(f"#{i}").inner_text() for i in described]
    assert any("letters" in t.lower() or "valid" in t.lower() for t in texts), texts
    email = page.get_by_label("Email")
    assert email.get_attribute("aria-invalid") == "true"
    assert "required" in page.locator("#" + email.get_attribute("aria-describedby").split()[-1]).inner_text()
