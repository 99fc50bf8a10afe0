"""An import survives its server being killed: another start resumes it from the last
committed chunk, and no row is applied twice."""

import signal
import time

import httpx
import pytest

from tests.bulk.test_imports import big_file


def _poll(session: httpx.Client, path: str, until) -> dict:
    while True:
        body = session.get(path).json()
        if until(body):
            return body
        time.sleep(0.05)


@pytest.mark.slow
def test_an_import_killed_midway_finishes_after_restart(database_url, live_server_factory):
    server = live_server_factory(database_url, KURZ_JOB_POLL_SECONDS="0.2")
    session = httpx.Client(base_url=server.base_url, timeout=30)
    credentials = {"email": "importer@example.com", "password": "correct horse 42"}
    assert session.post("/api/v1/users", json=credentials).status_code == 201
    assert session.post("/api/v1/session", json=credentials).status_code == 200
    org_id = session.post("/api/v1/orgs", json={"name": "Import"}).json()["id"]
    body, bad = big_file()
    response = session.post(
        f"/api/v1/orgs/{org_id}/imports",
        content=body.encode(),
        headers={"Content-Type": "text/csv", "Origin": server.base_url},
    )
    assert response.status_code == 202, response.text
    path = f"/api/v1/orgs/{org_id}/imports/{response.json()['id']}"
    midway = _poll(session, path, lambda state: state["created"] > 0)
    server.stop(signal.SIGKILL)
    assert midway["status"] == "running", midway

    restarted = live_server_factory(database_url, KURZ_JOB_POLL_SECONDS="0.2")
    session = httpx.Client(base_url=restarted.base_url, timeout=30)
    assert session.post("/api/v1/session", json=credentials).status_code == 200
    done = _poll(session, path, lambda state: state["status"] == "done")
    assert done["created"] > midway["created"]
    # Every row counted once: a row applied again would count as skipped.
    assert (done["created"], done["skipped"], done["failed"]) == (10_000 - len(bad), 0, len(bad))
    assert len(done["errors"]) == len(bad)
    links = session.get(f"/api/v1/orgs/{org_id}/tags").json()["items"]
    assert {tag["name"]: tag["links"] for tag in links}["bulk"] == 10_000 - len(bad)
