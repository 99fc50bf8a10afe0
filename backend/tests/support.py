"""Helpers and constants shared by the tests (fixtures live in the conftest files).

Test modules import from here, never from a conftest: pytest loads those itself.
"""

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pyotp

BACKEND_DIR = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"
BASE_URL = "http://kurz.test"
PROBLEM = "application/problem+json"


def with_database(url: str, name: str) -> str:
    """The same server URL, naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _execute(postgres_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(postgres_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def run_admin(postgres_url: str, *statements: str) -> None:
    """Run admin statements from sync code, even while a test's event loop is running."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _execute(postgres_url, *statements)).result()


async def assert_problem(
    response, status: int, code: str | None = None, *, field: str | None = None, detail: str = ""
) -> dict:
    """Check that ``response`` (a Quart test client's or httpx's) is a problem+json answer with
    this status and, if given, this code, a validation error on exactly ``field`` and ``detail``
    within its detail; return its body. Sync tests run it with ``asyncio.run``."""
    if isinstance(response, httpx.Response):
        text = response.text
    else:
        text = await response.get_data(as_text=True)
    assert response.status_code == status, (response.status_code, text)
    assert response.headers["Content-Type"].startswith(PROBLEM), (response.headers, text)
    body = json.loads(text)
    assert body["status"] == status and body["code"], body
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        assert [error["field"] for error in body["errors"]] == [field], body
    assert detail in body["detail"], body
    return body


async def enable_two_factor(client, at: float | None = None) -> tuple[pyotp.TOTP, list[str]]:
    """Turn on two-factor login for the logged-in (Quart test) client's account; return its
    code generator and recovery codes. ``at`` dates the confirming code for a test's clock."""
    secret = (await (await client.post("/api/v1/users/me/totp")).get_json())["secret"]
    totp = pyotp.TOTP(secret)
    code = totp.now() if at is None else totp.at(at)
    response = await client.post("/api/v1/users/me/totp/confirm", json={"code": code})
    assert response.status_code == 200, await response.get_data(as_text=True)
    return totp, (await response.get_json())["recovery_codes"]


@dataclass
class Account:
    id: str
    email: str
    password: str
    client: object  # a logged-in Quart test client


MAIL_LINK = re.compile(r"https?://\S*?token=([A-Za-z0-9_-]+)")


@dataclass
class Mailbox:
    """What an SMTP server (aiosmtpd's handler) accepted, in order."""

    messages: list[EmailMessage] = field(default_factory=list)
    # What the server answers to each recipient and to each message; tests set refusals.
    recipient_reply: str = "250 OK"
    data_reply: str = "250 OK"

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's)
        self, server, session, envelope, address, rcpt_options
    ) -> str:
        if self.recipient_reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.recipient_reply

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's)
        if self.data_reply.startswith("250"):
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return self.data_reply

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]

    def text(self, message: EmailMessage) -> str:
        return message.get_body(("plain",)).get_content()

    def token(self, address: str) -> str:
        """The token of the link in the latest mail to ``address``."""
        return MAIL_LINK.search(self.text(self.to(address)[-1])).group(1)


# --- real server processes -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Stop the server as an orchestrator would; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def wait_until_healthy(base_url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def start_live_server(database_url: str, log_dir: Path, **env: str) -> LiveServer:
    """A real ``python -m kurz`` process (uvicorn) with the given environment, once ready."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KURZ_PORT": str(port),
        "KURZ_BASE_URL": base_url,
        "KURZ_RATE_LIMITS": "off",
        "KURZ_DB_POOL_MIN": "1",
        "KURZ_DATA_DIR": str(log_dir / "data"),
        **env,
    }
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "kurz"],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=BACKEND_DIR,
        )
    server = LiveServer(base_url=base_url, process=process, log_path=log_path)
    try:
        wait_until_healthy(base_url, process)
    except RuntimeError as error:
        server.stop(signal.SIGKILL)
        raise RuntimeError(f"{error}:\n{server.log()}") from None
    return server
