"""Password-protected links through a real server: the form, the API answer, unlocking, the
unlock cookie, and the limit on wrong passwords."""

import asyncio
import re

import pytest

from tests.controls.live import sign_up, visitor
from tests.support import assert_problem

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SECRET = "open sesame"


@pytest.fixture
def owner(live_server):
    return sign_up(live_server.base_url)


def test_browsers_get_a_form_and_api_clients_a_401(live_server, owner) -> None:
    owner.create_link(slug="locked", url="https://example.com/secret", password=SECRET)
    with visitor(live_server.base_url, **BROWSER) as browser:
        page = browser.get("/locked")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert re.search(r'<form[^>]*method="post"[^>]*action="/locked"', page.text)
        assert 'name="password"' in page.text
        # Nothing the strict CSP would block: no inline script or style.
        assert "<script" not in page.text and "<style" not in page.text
        assert "style=" not in page.text
        assert "https://example.com/secret" not in page.text
    with visitor(live_server.base_url) as api:
        for response in (api.get("/locked"), api.get("/locked", headers={"Accept": "*/*"})):
            asyncio.run(assert_problem(response, 401, "LINK_PASSWORD_REQUIRED"))
            assert "location" not in response.headers
        assert api.head("/locked").status_code == 401
    assert owner.link("locked")["clicks"] == 0


def test_a_wrong_password_shows_the_form_again_and_the_right_one_redirects(
    live_server, owner
) -> None:
    owner.create_link(slug="locked", url="https://example.com/secret", password=SECRET)
    with visitor(live_server.base_url, **BROWSER) as browser:
        wrong = browser.post("/locked", data={"password": "guess"})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"].startswith("text/html")
        assert "Wrong password" in wrong.text and 'name="password"' in wrong.text
        assert "kurz_unlock" not in wrong.headers.get("set-cookie", "")
        right = browser.post("/locked", data={"password": SECRET})
        assert right.status_code == 302
        assert right.headers["location"] == "https://example.com/secret"
        assert right.headers["cache-control"] == "no-store"
    assert owner.link("locked")["clicks"] == 1
    # JSON clients may post the form too, and get problems.
    with visitor(live_server.base_url, Accept="application/json") as api:
        response = api.post("/locked", data={"password": "guess"})
        asyncio.run(assert_problem(response, 401, "LINK_PASSWORD_REQUIRED"))
    assert SECRET not in live_server.log() and "guess" not in live_server.log()


def test_the_unlock_cookie_spares_the_form_until_the_password_changes(live_server, owner) -> None:
    owner.create_link(slug="locked", url="https://example.com/secret", password=SECRET)
    owner.create_link(slug="other", url="https://example.com/other", password=SECRET)
    with visitor(live_server.base_url, **BROWSER) as browser:
        right = browser.post("/locked", data={"password": SECRET})
        cookie = right.headers["set-cookie"]
        assert cookie.startswith("kurz_unlock=")
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "path", "max-age"} <= attributes
        assert "Path=/locked" in cookie and "SameSite=Lax" in cookie
        assert "Max-Age=86400" in cookie
        assert SECRET not in cookie
        again = browser.get("/locked")
        assert again.status_code == 302
        assert again.headers["location"] == "https://example.com/secret"
        # Scoped to that link: another protected link still asks.
        assert browser.get("/other").status_code == 200
        # A forged or another link's cookie does not unlock.
        value = browser.cookies.get("kurz_unlock", path="/locked")
        forged = browser.get("/other", headers={"Cookie": f"kurz_unlock={value}"})
        assert forged.status_code == 200
        owner.edit_link("locked", password="a new secret")
        assert browser.get("/locked").status_code == 200  # the form again
        assert browser.post("/locked", data={"password": SECRET}).status_code == 401
        assert browser.post("/locked", data={"password": "a new secret"}).status_code == 302
        assert browser.get("/locked").status_code == 302
        owner.edit_link("locked", password=None)
        with visitor(live_server.base_url) as api:
            assert api.get("/locked").status_code == 302  # no password, no form


def test_five_wrong_passwords_a_minute_then_429_per_address_and_link(live_server, owner) -> None:
    owner.create_link(slug="locked", url="https://example.com/secret", password=SECRET)
    owner.create_link(slug="other", url="https://example.com/other", password=SECRET)
    # The test's requests come from 127.0.0.1, a trusted proxy: X-Forwarded-For names the client.
    with visitor(live_server.base_url, **BROWSER, **{"X-Forwarded-For": "81.2.69.160"}) as one:
        for _ in range(5):
            assert one.post("/locked", data={"password": "guess"}).status_code == 401
        for password in ("guess", SECRET):  # the right one too: guessing must not go on
            locked = one.post("/locked", data={"password": password})
            assert locked.status_code == 429
            assert 1 <= int(locked.headers["retry-after"]) <= 60
            assert "kurz_unlock" not in locked.headers.get("set-cookie", "")
        # Per link: another link of the same address is not locked.
        assert one.post("/other", data={"password": SECRET}).status_code == 302
    with visitor(live_server.base_url, **BROWSER, **{"X-Forwarded-For": "8.8.8.8"}) as two:
        assert two.post("/locked", data={"password": SECRET}).status_code == 302
    with visitor(
        live_server.base_url, Accept="application/json", **{"X-Forwarded-For": "81.2.69.160"}
    ) as api:
        response = api.post("/locked", data={"password": SECRET})
        asyncio.run(assert_problem(response, 429))
        assert int(response.headers["retry-after"]) >= 1


def test_the_form_post_needs_no_json_even_with_a_session_cookie(live_server, owner) -> None:
    """A logged-in user's browser posts the form with the session cookie: the JSON-only CSRF
    rule must not refuse it (and still guards the API)."""
    owner.create_link(slug="locked", url="https://example.com/secret", password=SECRET)
    response = owner.client.post(
        "/locked", data={"password": SECRET}, headers={**BROWSER, "Origin": live_server.base_url}
    )
    assert response.status_code == 302
    refused = owner.client.post(
        "/api/v1/orgs", data={"name": "x"}, headers={"Origin": live_server.base_url}
    )
    assert refused.status_code == 403
