"""Browser fixtures: Debian's headless Chromium (one per module) driving the real app
(``shared_live_server``), a fresh browser context per test, and a watch that fails the test on
console errors, uncaught exceptions, CSP violations, failed asset loads and API errors the test
did not provoke on purpose."""

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from .ui import DESKTOP, Watch

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
