import os
import subprocess
import sys

from .support import BACKEND_DIR


def run_server(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kurz"],
        env={**os.environ, "KURZ_PORT": "5999", **env},
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unreachable_database_gives_up_with_one_clear_line() -> None:
    result = run_server(
        DATABASE_URL="postgresql://kurz@127.0.0.1:9/kurz", KURZ_DB_START_TIMEOUT="1"
    )
    assert result.returncode != 0
    assert "cannot reach the database after 1s" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_a_missing_or_default_secret() -> None:
    for secret in ("", "changeme"):
        result = run_server(KURZ_ENV="production", KURZ_SECRET_KEY=secret)
        assert result.returncode != 0
        assert "KURZ_SECRET_KEY must be set" in result.stderr
        assert "Traceback" not in result.stderr


async def test_api_answers_are_not_cached_and_vary_by_credentials(make_org, client) -> None:
    org_id, owner = await make_org()
    for response in (
        await owner.client.get("/api/v1/session"),
        await owner.client.get(f"/api/v1/orgs/{org_id}/links"),
        await client.get("/api/v1/session"),  # the 401 too
    ):
        assert response.headers["Cache-Control"] == "no-store"
        assert "Cookie" in response.headers["Vary"]
        assert "Authorization" in response.headers["Vary"]
        assert "server" not in response.headers
