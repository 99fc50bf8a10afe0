"""Postgres stops under light load, then starts again: fast 503s, recovery, no click lost."""

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support import PROBLEM, assert_problem

from .helpers import (
    client,
    create_link,
    create_org,
    register,
    visit,
    wait_for,
)

QUICK = 5.0  # seconds: the longest any answer may take, outage or not


@dataclass
class Load:
    """Light background traffic: a redirect and a links list about every 50 ms."""

    base_url: str
    cookie: str
    org_id: str
    slug: str
    answers: list[tuple[str, int, str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with client(self.base_url, timeout=30, cookies={"kurz_session": self.cookie}) as http:
            while not self.stop.is_set():
                for name, call in (
                    ("redirect", lambda: visit(http, self.slug)),
                    ("list", lambda: http.get(f"/api/v1/orgs/{self.org_id}/links")),
                ):
                    started = time.monotonic()
                    try:
                        response = call()
                    except httpx.HTTPError as error:
                        self.failures.append(f"{name}: {error!r}")
                        continue
                    self.answers.append(
                        (
                            name,
                            response.status_code,
                            response.headers.get("content-type", ""),
                            time.monotonic() - started,
                        )
                    )
                time.sleep(0.05)


def errors(log: str) -> str:
    """The ERROR lines of a server log, each with what follows it (its traceback)."""
    blocks = log.split("\nERROR ")[1:]
    return "\n".join("ERROR " + block[:3000] for block in blocks)


def timed(call) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.slow
def test_database_outage_answers_503_quickly_and_recovers_without_losing_clicks(
    own_postgres, live_server_factory
) -> None:
    # own_postgres first: torn down last, after the server has stopped.
    server = live_server_factory(
        own_postgres.url, KURZ_DB_QUERY_TIMEOUT="2", KURZ_CLICK_FLUSH_SECONDS="1"
    )
    owner = register(server.base_url)
    org_id = create_org(owner)
    link = create_link(owner.http, org_id)
    load = Load(server.base_url, owner.session_cookie, org_id, link["slug"])
    worker = threading.Thread(target=load.run)
    worker.start()
    try:
        time.sleep(1.5)
        own_postgres.stop()
        down_since = time.monotonic()

        # While it is down: quick 503 problem+json from the API and /readyz; the process lives.
        http = owner.http
        for call in (
            lambda: http.get(f"/api/v1/orgs/{org_id}/links"),
            lambda: http.get(f"/api/v1/orgs/{org_id}/links/{link['slug']}"),
            lambda: http.post(f"/api/v1/orgs/{org_id}/links", json={"url": "https://a.example"}),
            lambda: http.get("/readyz"),
        ):
            response, seconds = timed(call)
            asyncio.run(assert_problem(response, 503))
            assert seconds < QUICK, seconds
        assert http.get("/healthz").status_code == 200
        # Long enough for the click flusher to fail and keep its batch at least twice.
        time.sleep(max(0.0, 4 - (time.monotonic() - down_since)))

        own_postgres.start()
        back_since = time.monotonic()
        wait_for(lambda: http.get("/readyz").status_code == 200, timeout=10)
        wait_for(lambda: http.get(f"/api/v1/orgs/{org_id}/links").status_code == 200, 10)
        created = create_link(http, org_id)
        assert time.monotonic() - back_since < 10
        time.sleep(1)  # some traffic after the recovery too
    finally:
        load.stop.set()
        worker.join(30)

    assert server.process.poll() is None, "the process must stay up"
    assert not load.failures, load.failures[:5]
    statuses = Counter((name, status) for name, status, _, _ in load.answers)
    expected = {("redirect", 302), ("list", 200), ("redirect", 503), ("list", 503)}
    assert set(statuses) <= expected, (statuses, errors(server.log()))
    assert statuses[("list", 503)], statuses  # the load did see the outage
    slowest = max(seconds for _, _, _, seconds in load.answers)
    assert slowest < QUICK, slowest
    for name, status, content_type, _ in load.answers:
        if status == 503:
            assert content_type.startswith(PROBLEM), (name, content_type)

    # Every redirect answered, before, during and after the outage, is counted in the end.
    redirected = statuses[("redirect", 302)]

    def clicks() -> int:
        return http.get(f"/api/v1/orgs/{org_id}/links/{link['slug']}").json()["clicks"]

    try:
        wait_for(lambda: clicks() == redirected, timeout=10)
    except AssertionError:
        raise AssertionError(
            f"{clicks()} clicks, {redirected} redirects\n{server.log()}"
        ) from None
    # The redirect cache follows changes again (its LISTEN connection came back too).
    response = http.patch(
        f"/api/v1/orgs/{org_id}/links/{created['slug']}", json={"url": "https://b.example/"}
    )
    assert response.status_code == 200, response.text
    wait_for(
        lambda: visit(http, created["slug"]).headers.get("location") == "https://b.example/", 3
    )
    # Warnings only: asyncpg's pool adds a traceback to its own reconnect warnings, but nothing
    # may fail as an error.
    assert not errors(server.log())
    assert server.stop() == 0, server.log()


@pytest.mark.slow
def test_clicks_a_stop_during_an_outage_could_not_write_are_written_by_the_next_start(
    own_postgres, live_server_factory
) -> None:
    server = live_server_factory(own_postgres.url, KURZ_DB_QUERY_TIMEOUT="1")
    owner = register(server.base_url)
    org_id = create_org(owner)
    slug = create_link(owner.http, org_id)["slug"]
    assert visit(owner.http, slug).status_code == 302  # now in the redirect cache
    own_postgres.stop()
    redirected = 1 + sum(visit(owner.http, slug).status_code == 302 for _ in range(20))
    assert redirected > 1, "redirects are served from the cache during an outage"

    assert server.stop() == 0, server.log()
    assert f"{redirected} clicks spooled to" in server.log(), server.log()
    own_postgres.start()
    restarted = live_server_factory(own_postgres.url)
    http = client(restarted.base_url)
    credentials = {"email": owner.email, "password": owner.password}
    assert http.post("/api/v1/session", json=credentials).status_code == 200
    link = f"/api/v1/orgs/{org_id}/links/{slug}"
    wait_for(lambda: http.get(link).json()["clicks"] == redirected, timeout=10)
    assert "took back the clicks spooled to" in restarted.log()
    assert not errors(restarted.log())
