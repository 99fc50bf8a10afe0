import httpx

from .support import PASSWORD


def test_without_database_url_an_embedded_server_is_started_reused_and_stopped(
    live_server_factory, tmp_path
) -> None:
    data_dir = tmp_path / "data"
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    environment = {"DATABASE_URL": "", "KURZ_DATA_DIR": str(data_dir)}

    first = live_server_factory("", **environment)
    assert pid_file.exists()
    registered = httpx.post(
        f"{first.base_url}/api/v1/users",
        json={"email": "kept@example.com", "password": PASSWORD},
    )
    assert registered.status_code == 201
    assert first.stop() == 0
    assert not pid_file.exists(), "the embedded server must stop with the app"

    second = live_server_factory("", **environment)
    logged_in = httpx.post(
        f"{second.base_url}/api/v1/session",
        json={"email": "kept@example.com", "password": PASSWORD},
    )
    assert logged_in.status_code == 200, "data must survive a restart"
    assert second.stop() == 0
