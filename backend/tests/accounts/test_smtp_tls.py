"""Mail over encrypted, authenticated SMTP: STARTTLS when the server offers it, TLS from the
start for ``smtps://``, each against a real aiosmtpd server with a certificate the test makes
(and trusts through ``SSL_CERT_FILE``)."""

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kurz.services import services

from ..support import Mailbox, free_port

USER, PASSWORD = "kurz", "p@ss:w/rd"  # characters that must be escaped in the URL
URL_CREDENTIALS = "kurz:p%40ss%3Aw%2Frd"


@pytest.fixture
def server_tls(tmp_path: Path, monkeypatch) -> ssl.SSLContext:
    """A server context for 127.0.0.1 whose certificate the client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == LoginPassword(
        USER.encode(), PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture
def starttls_server(server_tls) -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,  # nothing is accepted before the connection is encrypted
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    yield controller.port, mailbox
    controller.stop()


@pytest.fixture
def tls_server(server_tls) -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=server_tls,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,  # aiosmtpd counts only STARTTLS as TLS; this is TLS throughout
    )
    controller.start()
    yield controller.port, mailbox
    controller.stop()


async def mail_a_reset(app_factory, settings, smtp_url: str) -> int:
    """Register and ask for a reset (two mails); returns how many mails are left unsent."""
    app = app_factory(settings, smtp_url=smtp_url)
    async with app.test_app():
        jobs = services(app).jobs
        await jobs.stop()
        client = app.test_client()
        body = {"email": "tls@example.com", "password": "a long enough passphrase"}
        assert (await client.post("/api/v1/users", json=body)).status_code == 201
        response = await client.post("/api/v1/password-reset", json={"email": body["email"]})
        assert response.status_code == 202
        while await jobs.run_due():
            pass
        return await services(app).db.fetch_val("SELECT count(*) FROM mails WHERE sent_at IS NULL")


async def test_starttls_with_a_login(app_factory, settings, starttls_server) -> None:
    port, mailbox = starttls_server
    unsent = await mail_a_reset(
        app_factory, settings, f"smtp://{URL_CREDENTIALS}@127.0.0.1:{port}"
    )
    assert unsent == 0
    subjects = [mail["Subject"] for mail in mailbox.to("tls@example.com")]
    assert "Reset your Kurz password" in subjects


async def test_tls_from_the_start_with_smtps(app_factory, settings, tls_server) -> None:
    port, mailbox = tls_server
    unsent = await mail_a_reset(
        app_factory, settings, f"smtps://{URL_CREDENTIALS}@127.0.0.1:{port}"
    )
    assert unsent == 0
    subjects = [mail["Subject"] for mail in mailbox.to("tls@example.com")]
    assert "Reset your Kurz password" in subjects


async def test_a_wrong_password_sends_nothing(app_factory, settings, starttls_server) -> None:
    port, mailbox = starttls_server
    unsent = await mail_a_reset(app_factory, settings, f"smtp://kurz:wrong@127.0.0.1:{port}")
    assert mailbox.messages == []
    assert unsent == 2  # kept for the retries
