"""``python -m kurz`` runs the job worker in a process of its own: it stops with the server,
dies with it when the server is killed, and is started again when it dies alone."""

import os
import signal
from pathlib import Path

from .helpers import register, wait_for


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def job_process(server_pid: int) -> int:
    [pid] = wait_for(lambda: children(server_pid), timeout=15)
    assert "kurz.job_process" in Path(f"/proc/{pid}/cmdline").read_text()
    return pid


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_job_worker_dies_with_a_killed_server(live_server_factory, database_url) -> None:
    server = live_server_factory(database_url)
    worker = job_process(server.process.pid)
    server.stop(signal.SIGKILL)
    wait_for(lambda: not alive(worker), timeout=5)


def test_a_dead_job_worker_is_started_again_and_stops_with_the_server(
    live_server_factory, database_url
) -> None:
    server = live_server_factory(database_url, KURZ_JOB_POLL_SECONDS="0.2")
    first = job_process(server.process.pid)
    os.kill(first, signal.SIGKILL)
    second = wait_for(lambda: children(server.process.pid) - {first}, timeout=15)
    assert "starting again in 1s" in server.log()
    # The new worker runs the jobs: a password reset's mail is sent by one (and, with no mail
    # server configured, logged).
    user = register(server.base_url)
    response = user.http.post("/api/v1/password-reset", json={"email": user.email})
    assert response.status_code == 202, response.text
    wait_for(lambda: f"mail to {user.email}" in server.log(), timeout=15)
    [worker] = second
    assert alive(worker)
    assert server.stop() == 0
    assert not alive(worker)
