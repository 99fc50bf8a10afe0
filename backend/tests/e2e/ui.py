"""Helpers for the browser tests: set up data through the JSON API (fast), act through the UI."""

import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page, Response, expect

from ..support import PASSWORD

DESKTOP = {"width": 1280, "height": 900}
# Chromium logs every error answer as a console error; the response watch judges those.
HTTP_ERROR_LOG = "Failed to load resource: the server responded with a status of "
# Reports CSP violations to the test directly, not only through the console.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) =>
  window.kurzCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));
"""


class Watch:
    """Problems seen in any page of a test; ``expect(status)`` allows answers with that status."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        # Opening the app logged out asks for the session first: that 401 is the normal case.
        self.allowed: set[tuple[int, str]] = {(401, "GET /api/v1/session")}

    def expect(self, status: int, method: str = "*", path: str = "*") -> None:
        self.allowed.add((status, f"{method} {path}"))

    def _allowed(self, status: int, method: str, path: str) -> bool:
        keys = {f"{method} {path}", f"{method} *", f"* {path}", "* *"}
        return any((status, key) in self.allowed for key in keys)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith(HTTP_ERROR_LOG):
            self.problems.append(f"console error: {message.text} ({message.location})")

    def on_response(self, response: Response) -> None:
        path = urlsplit(response.url).path
        method = response.request.method
        if response.status >= 400 and not self._allowed(response.status, method, path):
            self.problems.append(f"{method} {path} answered {response.status}")

    def watch(self, context: BrowserContext) -> None:
        context.expose_function(
            "kurzCspViolation", lambda text: self.problems.append(f"CSP: {text}")
        )
        context.add_init_script(CSP_LISTENER)
        context.on("console", self.on_console)
        context.on("weberror", lambda error: self.problems.append(f"page error: {error.error}"))
        context.on("response", self.on_response)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def call(context: BrowserContext, method: str, path: str, body: Any = None) -> Any:
    """A JSON API call with the context's cookies; fails the test unless it succeeds."""
    response = context.request.fetch(f"/api/v1{path}", method=method, data=body)
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json() if response.status != 204 and response.body() else None


@dataclass
class Person:
    id: str
    email: str
    context: BrowserContext


def sign_up(context: BrowserContext, name: str = "", email: str | None = None) -> Person:
    """Registers and logs in through the API; the context's pages share the session cookie."""
    email = email or unique_email()
    call(context, "POST", "/users", {"email": email, "password": PASSWORD, "name": name})
    user = call(context, "POST", "/session", {"email": email, "password": PASSWORD})
    return Person(id=user["id"], email=email, context=context)


def create_org(person: Person, name: str = "Acme") -> str:
    return call(person.context, "POST", "/orgs", {"name": name})["id"]


def add_member(by: Person, org_id: str, email: str, role: str = "member") -> None:
    """``by`` adds a registered email as a member, or invites one that is not."""
    call(by.context, "POST", f"/orgs/{org_id}/members", {"email": email, "role": role})


def create_link(person: Person, org_id: str, **fields: Any) -> dict:
    body = {"url": "https://example.com/", **fields}
    return call(person.context, "POST", f"/orgs/{org_id}/links", body)


def wait_for_image(image: Locator, timeout: float = 10) -> None:
    """Until the image has loaded. Polled from here: the page's own polling (wait_for_function)
    compiles its predicate with eval, which the app's CSP rightly blocks."""
    deadline = time.monotonic() + timeout
    while not image.evaluate("img => img.complete && img.naturalWidth > 0"):
        assert time.monotonic() < deadline, "the image did not load"
        time.sleep(0.05)


def open_app(page: Page, path: str = "/") -> None:
    """Loads the app at a route and waits until its screen has drawn its heading."""
    page.goto(f"/#{path}")
    expect(page.locator("main h1")).to_be_visible()


def flash(page: Page):
    return page.get_by_test_id("flash")


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter((el) => !el.closest('[hidden], .offscreen') && el.type !== 'hidden')
  .filter((el) => {
    const named = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    const text = ['BUTTON', 'A'].includes(el.tagName) && el.textContent.trim();
    return !(named || text || (el.labels && el.labels.length));
  })
  .map((el) => el.outerHTML.slice(0, 120))"""


def assert_labelled(page: Page) -> None:
    """Every control on the screen has a name a screen reader can announce."""
    assert page.evaluate(UNLABELLED) == []
