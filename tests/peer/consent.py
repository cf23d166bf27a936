"""Sign-in and consent at the test PDS's OAuth authorization server without a browser.

Drives the JSON API the provider's own web UI calls (internal to @atproto/oauth-provider, pinned by
tests/peer/package-lock.json): the authorize page, then ~api/sign-in, ~api/consent (or ~api/reject),
then the provider's redirect endpoint, whose 303 Location carries the callback parameters. The
client's redirect_uri itself is never fetched: the test hands the parameters to the app.
"""

from __future__ import annotations

import urllib.parse

import httpx

API_PREFIX = "/@atproto/oauth-provider/~api"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) elonara-peer-consent/1"


class ConsentError(RuntimeError):
    """A step of the sign-in/consent flow did not answer as the provider's UI expects."""

    def __init__(self, step: str, status: int, detail: str) -> None:
        super().__init__(f"consent flow: {step} answered {status}: {detail}")
        self.step = step
        self.status = status
        self.detail = detail


class _Browser:
    """The few things a browser does here: keep the provider's cookies and its navigation headers.

    The provider marks its cookies Secure, so an HTTP cookie jar would not send them back over
    http://localhost: they are carried by hand.
    """

    def __init__(self, authorization_url: str) -> None:
        self.authorization_url = authorization_url
        parts = urllib.parse.urlsplit(authorization_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.cookies: dict[str, str] = {}
        self.http = httpx.Client(follow_redirects=False, timeout=30, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self.http.close()

    def _keep_cookies(self, response: httpx.Response) -> None:
        for line in response.headers.get_list("set-cookie"):
            pair = line.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if name.strip():
                self.cookies[name.strip()] = value.strip()

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def navigate(self, url: str, *, site: str) -> httpx.Response:
        headers = {
            "Accept": "text/html",
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Dest": "document",
            "Sec-Fetch-Site": site,
        }
        if self.cookies:
            headers["Cookie"] = self._cookie_header()
        if site == "same-origin":
            headers["Referer"] = self.authorization_url
        response = self.http.get(url, headers=headers)
        self._keep_cookies(response)
        return response

    def api(self, endpoint: str, payload: dict, *, bearer: str | None = None) -> httpx.Response:
        headers = {
            "Accept": "application/json",
            "Origin": self.origin,
            "Referer": self.authorization_url,
            "Sec-Fetch-Mode": "same-origin",
            "Sec-Fetch-Site": "same-origin",
            "Sec-Fetch-Dest": "empty",
            "X-CSRF-Token": self.cookies.get("csrf-token", ""),
            "Cookie": self._cookie_header(),
        }
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        response = self.http.post(f"{self.origin}{API_PREFIX}{endpoint}", json=payload, headers=headers)
        self._keep_cookies(response)
        return response


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        # Error names and descriptions only: the provider's error bodies carry no secrets.
        return f"{body.get('error', '')}: {body.get('error_description', '')}".strip(": ")
    return response.reason_phrase


def _callback_params(browser: _Browser, redirect_url: str) -> dict[str, str]:
    response = browser.navigate(redirect_url, site="same-origin")
    if response.status_code not in (302, 303):
        raise ConsentError("redirect", response.status_code, _error_detail(response))
    location = urllib.parse.urlsplit(response.headers["location"])
    # response_mode query (the default) or fragment.
    params = dict(urllib.parse.parse_qsl(location.query))
    params.update(urllib.parse.parse_qsl(location.fragment))
    return params


def _open_authorize_page(browser: _Browser) -> None:
    response = browser.navigate(browser.authorization_url, site="cross-site")
    if response.status_code != 200 or "csrf-token" not in browser.cookies:
        raise ConsentError("authorize page", response.status_code, _error_detail(response))


def consent(
    authorization_url: str,
    account,
    scope: str | None = None,
    *,
    password: str | None = None,
) -> dict[str, str]:
    """Signs `account` in and consents; returns the callback's parameters (code, state, iss).

    `scope` grants a subset of the asked scope. `account` is an Account (or a dict) with handle,
    did, password; `password` overrides it (a wrong one raises ConsentError at sign-in).
    """
    get = (lambda k: account[k]) if isinstance(account, dict) else (lambda k: getattr(account, k))
    browser = _Browser(authorization_url)
    try:
        _open_authorize_page(browser)
        response = browser.api(
            "/sign-in",
            {"locale": "en", "username": get("handle"), "password": password or get("password"), "remember": False},
        )
        if response.status_code != 200:
            raise ConsentError("sign-in", response.status_code, _error_detail(response))
        signed_in = response.json()
        ephemeral_token = signed_in.get("ephemeralToken")
        did = signed_in.get("account", {}).get("sub") or get("did")
        body = {"did": did}
        if scope is not None:
            body["scope"] = scope
        response = browser.api("/consent", body, bearer=ephemeral_token)
        if response.status_code != 200 or "url" not in response.json():
            raise ConsentError("consent", response.status_code, _error_detail(response))
        return _callback_params(browser, response.json()["url"])
    finally:
        browser.close()


def deny(authorization_url: str) -> dict[str, str]:
    """Rejects the request as the user would; returns the callback's parameters (error, state, iss)."""
    browser = _Browser(authorization_url)
    try:
        _open_authorize_page(browser)
        response = browser.api("/reject", {})
        if response.status_code != 200 or "url" not in response.json():
            raise ConsentError("reject", response.status_code, _error_detail(response))
        return _callback_params(browser, response.json()["url"])
    finally:
        browser.close()
