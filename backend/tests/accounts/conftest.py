"""Fixtures for the account tests: a real SMTP server (aiosmtpd, in a thread) whose mailbox
tests read, and an app that sends its mail there with email verification on."""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from kurz.config import Settings
from kurz.jobs import utc_now
from kurz.services import services

from ..conftest import PASSWORD, Account, free_port

LINK = re.compile(r"https?://\S*?token=([A-Za-z0-9_-]+)")


@dataclass
class Mailbox:
    """What the SMTP server accepted, in order."""

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
        return LINK.search(self.text(self.to(address)[-1])).group(1)


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
