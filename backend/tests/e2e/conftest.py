"""Browser fixtures: Debian's headless Chromium (one per module) driving the real app
(``shared_live_server``), a fresh browser context per test, and a watch that fails the test on
console errors, uncaught exceptions, CSP violations, failed asset loads and API errors the test
did not provoke on purpose."""

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    sync_playwright,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 900}
# Chromium logs every error answer as a console error; the response watch judges those.
HTTP_ERROR_LOG = "Failed to load resource: the server responded with a status of "
# Reports CSP violations to the test directly, not only through the console.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) =>
  window.kurzCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));
"""


@pytest.fixture(scope="session")
def base_url(shared_live_server) -> str:
    return shared_live_server.base_url


@pytest.fixture(scope="module", autouse=True)
def server_stays_healthy(shared_live_server) -> Iterator[None]:
    """What the browser cannot see (a failing background task, say) shows in the server log."""
    yield
    log = shared_live_server.log()
    assert "Traceback" not in log, log[-5000:]


# Per module, not per run: the sync API keeps an event loop running in this thread while the
# browser lives, which other test modules' asyncio tests (and fixtures) would trip over.
@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


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


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def new_context(browser: Browser, base_url: str, watch: Watch) -> Iterator[Callable]:
    """Makes watched browser contexts (a person each); closed and judged after the test."""
    contexts: list[BrowserContext] = []

    def make(**options) -> BrowserContext:
        context = browser.new_context(base_url=base_url, **{"viewport": DESKTOP, **options})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
        context.set_default_timeout(10_000)
        watch.watch(context)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not watch.problems, "\n".join(watch.problems)


@pytest.fixture
def context(new_context) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
