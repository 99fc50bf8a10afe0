"""Fixtures for the account tests: a real SMTP server (aiosmtpd, in a thread) whose mailbox
tests read, and an app that sends its mail there with email verification on."""

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from kurz.config import Settings
from kurz.jobs import utc_now
from kurz.services import services

from ..support import PASSWORD, Account, Mailbox, free_port


class SMTPServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, smtp: SMTPServer) -> Settings:
    return replace(
        settings,
        smtp_url=f"smtp://127.0.0.1:{smtp.port}",
        mail_from="Kurz <kurz@kurz.test>",
        require_email_verification=True,
    )


@pytest.fixture
async def jobs(app):
    """The app's job worker, stopped, so that tests run the queue themselves (``send``)."""
    worker = services(app).jobs
    await worker.stop()
    return worker


@pytest.fixture
def send(jobs) -> Callable:
    """Runs every due job (mail included) until none is left; ``later`` moves the queue's
    clock on, past retry delays."""

    async def run(later: timedelta = timedelta(0)) -> None:
        jobs.clock = lambda: utc_now() + later
        while await jobs.run_due():
            pass

    return run


@pytest.fixture
def verified_signup(signup, smtp, send) -> Callable:
    """An account that registered and followed its verification link."""

    async def make(email: str | None = None) -> Account:
        account = await signup(email, PASSWORD)
        await send()
        response = await account.client.post(
            "/api/v1/email-verification/confirm", json={"token": smtp.mailbox.token(account.email)}
        )
        assert response.status_code == 204, await response.get_data(as_text=True)
        return account

    return make
