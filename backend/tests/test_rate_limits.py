"""Every route is rate limited or explicitly exempt; login and registration are limited tightly."""

from contextlib import asynccontextmanager

import pytest
from quart_rate_limiter import QUART_RATE_LIMITER_EXEMPT_ATTRIBUTE

from kurz.ratelimits import LOGIN_FAILURES, LOGIN_FAILURES_PER_EMAIL
from kurz.services import services

from .support import PASSWORD, assert_problem


def test_every_route_has_a_limit_or_an_explicit_exemption(app) -> None:
    """Inspects what quart-rate-limiter itself applies, so routes added later are covered."""
    limiter = services(app).rate_limiter
    assert app.config["QUART_RATE_LIMITER_ENABLED"] is False  # the test settings turn it off
    assert limiter.default_limits, "the app-wide default is what covers new routes"
    rules = list(app.url_map.iter_rules())
    assert any(rule.rule == "/api/v1/session" for rule in rules)
    for rule in rules:
        view = app.view_functions[rule.endpoint]
        exempt = getattr(view, QUART_RATE_LIMITER_EXEMPT_ATTRIBUTE, False)
        assert exempt or limiter.route_limits(app, rule.endpoint), rule.rule


@pytest.mark.parametrize(
    ("endpoint", "count"),
    [("sessions.login", 3), ("users.register", 4), ("users.change_password", 3)],
)
def test_login_and_registration_have_tighter_limits(app, endpoint, count) -> None:
    """The default plus per-address (minute, hour) and, for registration, per-email limits."""
    limiter = services(app).rate_limiter
    limits = limiter.route_limits(app, endpoint)
    assert len(limits) == count
    assert min(limit.count / limit.period.total_seconds() for limit in limits) < 1 / 6


@pytest.fixture
def limited(app_factory, settings):
    """An app with rate limits on (the default outside of tests)."""

    @asynccontextmanager
    async def start():
        app = app_factory(settings, rate_limits=True)
        async with app.test_app():
            yield app

    return start


def from_address(number: int) -> dict:
    return {"scope_base": {"client": (f"10.0.{number // 250}.{number % 250 + 1}", 40000)}}


async def login(app, email: str, password: str, address: int = 0):
    return await app.test_client().post(
        "/api/v1/session", json={"email": email, "password": password}, **from_address(address)
    )


async def assert_rate_limited(response, code: str | None = None) -> None:
    await assert_problem(response, 429, code)
    assert int(response.headers["Retry-After"]) > 0


async def test_failed_logins_lock_out_the_address_they_come_from(limited) -> None:
    async with limited() as app:
        response = await app.test_client().post(
            "/api/v1/users", json={"email": "victim@example.com", "password": PASSWORD}
        )
        assert response.status_code == 201
        for attempt in range(LOGIN_FAILURES):
            response = await login(app, "Victim@example.com", f"guess {attempt}", 1)
            assert response.status_code == 401
        # Even the right password is refused from there now: otherwise guessing would go on.
        response = await login(app, "victim@example.com", PASSWORD, 1)
        await assert_rate_limited(response, "TOO_MANY_LOGIN_ATTEMPTS")
        assert 800 < int(response.headers["Retry-After"]) <= 900
        # Other emails are not affected.
        assert (await login(app, "someone@example.com", PASSWORD, 1)).status_code == 401
        # The owner, from an address without recent failures, still logs in.
        assert (await login(app, "victim@example.com", PASSWORD, 2)).status_code == 200


async def test_failed_logins_from_many_addresses_lock_the_email_much_later(limited) -> None:
    async with limited() as app:
        response = await app.test_client().post(
            "/api/v1/users", json={"email": "victim@example.com", "password": PASSWORD}
        )
        assert response.status_code == 201
        for attempt in range(LOGIN_FAILURES_PER_EMAIL):
            response = await login(app, "victim@example.com", "a guess", attempt // 5)
            assert response.status_code == 401, attempt
        response = await login(app, "victim@example.com", PASSWORD, 999)
        await assert_rate_limited(response, "TOO_MANY_LOGIN_ATTEMPTS")


async def test_a_successful_login_forgets_earlier_failures(limited) -> None:
    async with limited() as app:
        await app.test_client().post(
            "/api/v1/users", json={"email": "ok@example.com", "password": PASSWORD}
        )
        for round_ in range(2):
            for attempt in range(LOGIN_FAILURES - 1):
                response = await login(app, "ok@example.com", "typo typo", round_ * 10 + attempt)
                assert response.status_code == 401
            assert (await login(app, "ok@example.com", PASSWORD, 50 + round_)).status_code == 200


async def test_logins_per_address_are_limited(limited) -> None:
    async with limited() as app:
        statuses = [
            (await login(app, f"user{n}@example.com", PASSWORD, address=7)).status_code
            for n in range(21)
        ]
        assert statuses[:20] == [401] * 20
        await assert_rate_limited(await login(app, "last@example.com", PASSWORD, address=7))
        assert (await login(app, "last@example.com", PASSWORD, address=8)).status_code == 401


async def test_registrations_per_email_are_limited(limited) -> None:
    async with limited() as app:
        for attempt in range(5):
            response = await app.test_client().post(
                "/api/v1/users",
                json={"email": "spam@example.com", "password": "weak"},
                **from_address(attempt),
            )
            assert response.status_code == 400
        response = await app.test_client().post(
            "/api/v1/users",
            json={"email": "SPAM@example.com", "password": PASSWORD},
            **from_address(5),
        )
        await assert_rate_limited(response)


async def test_forwarded_for_headers_do_not_dodge_the_address_limit(limited) -> None:
    async with limited() as app:
        for n in range(21):
            response = await app.test_client().post(
                "/api/v1/session",
                json={"email": f"u{n}@example.com", "password": PASSWORD},
                headers={"X-Forwarded-For": f"192.0.2.{n}"},
            )
        await assert_rate_limited(response)


async def test_limits_off_means_off(app, signup) -> None:
    account = await signup()
    for attempt in range(LOGIN_FAILURES + 2):
        assert (await login(app, account.email, f"wrong {attempt}")).status_code == 401
    assert (await login(app, account.email, PASSWORD)).status_code == 200


async def signed_up(app, email: str, address: int):
    client = app.test_client()
    body = {"email": email, "password": PASSWORD}
    assert (await client.post("/api/v1/users", json=body, **from_address(address))).status_code
    assert (await client.post("/api/v1/session", json=body, **from_address(address))).is_json
    org = await client.post("/api/v1/orgs", json={"name": email}, **from_address(address))
    return client, (await org.get_json())["id"]


async def test_link_creation_is_limited_per_org_and_outsiders_cannot_use_it_up(limited) -> None:
    async with limited() as app:
        busy, busy_org = await signed_up(app, "busy@example.com", 1)
        other, other_org = await signed_up(app, "other@example.com", 2)
        path = f"/api/v1/orgs/{busy_org}/links"
        link = {"url": "https://example.com/"}
        for _ in range(5):  # an outsider's attempts are refused before they count
            assert (await other.post(path, json=link, **from_address(2))).status_code == 404
        # Spread over addresses, so that only the per-org limit applies. The allowance refills
        # at 300 a minute while the test runs, hence "soon after 300" rather than exactly.
        created = 0
        while (
            response := await busy.post(path, json=link, **from_address(created % 5 + 10))
        ).status_code == 201:
            created += 1
        await assert_rate_limited(response)
        assert 300 <= created < 400
        other_path = f"/api/v1/orgs/{other_org}/links"
        assert (await other.post(other_path, json=link, **from_address(2))).status_code == 201
        db = services(app).db
        assert (
            await db.fetch_val("SELECT count(*) FROM links WHERE org_id = :id", {"id": busy_org})
            == created
        )


async def test_slug_taken_answers_count_as_unknown_slug_probes(limited) -> None:
    async with limited() as app:
        client = app.test_client()
        credentials = {"email": "prober@example.com", "password": PASSWORD}
        assert (await client.post("/api/v1/users", json=credentials)).status_code == 201
        assert (await client.post("/api/v1/session", json=credentials)).status_code == 200
        org_id = (await (await client.post("/api/v1/orgs", json={"name": "P"})).get_json())["id"]
        url = f"/api/v1/orgs/{org_id}/links"
        body = {"url": "https://example.com/", "slug": "taken01"}
        assert (await client.post(url, json=body)).status_code == 201
        statuses = [(await client.post(url, json=body)).status_code for _ in range(40)]
        assert statuses == [409] * 40
        # The same allowance as redirects to unknown slugs, per client address.
        statuses = [(await client.get(f"/unknown{n}")).status_code for n in range(20)]
        assert statuses == [404] * 20
        created = await client.post(url, json={**body, "slug": "free-one"})
        assert created.status_code == 201  # a free slug spends nothing
        statuses = [(await client.post(url, json=body)).status_code for _ in range(5)]
        assert statuses == [429] * 5
        assert (await client.get("/unknown-more")).status_code == 429
        refused = await client.post(url, json=body)
        await assert_problem(refused, 429, "RATE_LIMITED")
        assert int(refused.headers["Retry-After"]) >= 1
        other = await client.post(url, json=body, scope_base={"client": ("192.0.2.7", 4000)})
        assert other.status_code == 409
