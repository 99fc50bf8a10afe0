"""The UI runs under the strict Content-Security-Policy, and the watch would notice if not."""

from playwright.sync_api import expect

from kurz.security import CONTENT_SECURITY_POLICY

from .ui import open_app


def test_the_ui_is_served_with_the_strict_policy(page) -> None:
    response = page.goto("/")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    expect(page.get_by_role("heading", name="Log in to Kurz")).to_be_visible()


def test_the_watch_reports_csp_violations_and_console_errors(page, watch) -> None:
    open_app(page, "/login")
    page.evaluate("""() => {
        document.body.insertAdjacentHTML('beforeend', '<div style="color: red">styled</div>');
        const script = document.createElement('script');
        script.textContent = 'window.inlineRan = true';
        document.body.append(script);
    }""")
    for _ in range(50):  # the reports arrive asynchronously
        problems = "\n".join(watch.problems)
        if "CSP: style-src" in problems and "CSP: script-src" in problems:
            break
        page.wait_for_timeout(20)
    assert "CSP: style-src" in problems, problems
    assert "CSP: script-src" in problems, problems
    assert "violates the following Content Security Policy" in problems  # logged too
    assert page.evaluate("window.inlineRan") is None
    watch.problems.clear()  # provoked on purpose


def test_the_api_docs_work_under_the_policy(page) -> None:
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Kurz API")
    expect(page.locator(".opblock").first).to_be_visible()
