"""Webhooks: signed, at-least-once events to the endpoints of an org.

- The outbox: ``emit`` stores an event with one delivery (and its job) per subscribed endpoint,
  on the connection of the transaction that makes the change; clicks get theirs from the click
  batch writer (``models.webhooks.insert_click_events``). Nothing is sent before the commit.
- ``WebhookSender`` is the job handler that sends a delivery: it resolves the endpoint's host
  and refuses non-public addresses again (DNS may have changed since the URL was checked), then
  connects to the very address it checked. Signed per Standard Webhooks (``webhook-id`` is the
  event's id, the same on every attempt). A 2xx within ``TOTAL_TIMEOUT`` is success; otherwise
  retried after ``RETRY_DELAYS``, then failed. An endpoint failing for ``DISABLE_AFTER`` in a
  row is disabled.
- Signing secrets are stored encrypted (AES-GCM, key derived from ``KURZ_SECRET_KEY``): a copy
  of the database alone cannot forge events, and the API never shows a secret again.
"""

import asyncio
import base64
import ipaddress
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx
from databases import Database
from databases.core import Connection
from pydantic import BaseModel
from standardwebhooks.webhooks import Webhook as Signer

from .background import cancel_and_wait
from .config import Settings
from .database import raw_connection
from .errors import APIError, validation_error
from .jobs import Job, JobKind, JobWorker, RetryLater
from .models.webhooks import (
    DELIVERY_JOB,
    Outgoing,
    delete_expired_deliveries,
    insert_event,
    select_outgoing,
    update_attempt,
)
from .schemas import _iso
from .sealing import UnreadableSecret, seal, unseal
from .slugs import NOT_URI, NOT_URI_MESSAGE

log = logging.getLogger(__name__)
# httpx logs every request at INFO: one line per delivery; the deliveries list has them.
logging.getLogger("httpx").setLevel(logging.WARNING)

EVENTS = (
    "link.created",
    "link.updated",
    "link.deleted",
    "link.clicked",
    "member.added",
    "member.removed",
)
SEALING_PURPOSE = "webhook secrets"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks marker, not a secret
# Delays before each retry; then the delivery has failed (8 attempts over 27 h 35 min).
RETRY_DELAYS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
DISABLE_AFTER = timedelta(days=5)
ROTATION_OVERLAP = timedelta(hours=24)
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 10.0
MAX_RESPONSE_READ = 64 * 1024
MAX_RESPONSE_KEPT = 1024
PER_ENDPOINT = 10  # deliveries in flight to one endpoint, per instance
PER_INSTANCE = 100
DELIVERED_KEPT = timedelta(days=7)
FAILED_KEPT = timedelta(days=30)
RETENTION_EVERY_SECONDS = 3600.0
USER_AGENT = "Kurz-Webhooks/1"


# --- secrets -------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature_header(secrets_: list[str], message_id: str, at: datetime, body: bytes) -> str:
    """``webhook-signature``: one ``v1,<base64>`` per signing secret, space-separated."""
    return " ".join(Signer(secret).sign(message_id, at, body) for secret in secrets_)


# --- addresses -----------------------------------------------------------------------------


def refused_address(address: str) -> bool:
    """Loopback, private, link-local (the cloud metadata address too), multicast, unspecified,
    reserved or otherwise non-public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    """The host's addresses (the event loop's resolver runs in a thread; an IP address needs
    no lookup)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(url: str, allow_private: bool) -> list[str]:
    """The addresses to connect to for ``url``; ValueError when it has none, or when one is
    not public (unless allowed): a host answering with both could be steered to either."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await resolve(parts.hostname or "", port)
    except (OSError, UnicodeError) as error:
        raise ValueError(f"The host {parts.hostname!r} does not resolve.") from error
    if not addresses:
        raise ValueError(f"The host {parts.hostname!r} does not resolve.")
    if not allow_private and any(refused_address(address) for address in addresses):
        raise ValueError(
            "The host resolves to a private, loopback, link-local or otherwise non-public address."
        )
    return addresses


async def check_url(url: str, settings: Settings) -> str:
    """A webhook URL as stored, or 400 INVALID_URL: https (http too in development), no
    credentials, a host resolving to public addresses only."""

    def invalid(message: str) -> APIError:
        return validation_error("url", message, "INVALID_URL")

    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise invalid("Not a valid URL.") from None
    schemes = ("https",) if settings.production else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname:
        raise invalid(f"Use an absolute {' or '.join(schemes)} URL.")
    if len(url) > 2048:
        raise invalid("The URL may have at most 2048 characters.")
    if NOT_URI.search(url):
        raise invalid(NOT_URI_MESSAGE)
    if parts.username is not None or parts.password is not None:
        raise invalid("The URL may not carry a user name or password.")
    try:
        await checked_addresses(url, settings.webhooks_allow_private)
    except ValueError as error:
        raise invalid(str(error)) from None
    return urlunsplit(parts._replace(fragment=""))


# --- the outbox ----------------------------------------------------------------------------


def payload(type: str, data: BaseModel | dict[str, Any], at: datetime | None = None) -> str:
    """The JSON body of an event: ``{type, timestamp, data}``."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return json.dumps({"type": type, "timestamp": _iso(at or datetime.now(UTC)), "data": data})


async def emit(
    connection: Connection | Database, org_id: str, type: str, *data: BaseModel | dict[str, Any]
) -> None:
    """Store an event of ``type`` per ``data`` for the org's endpoints subscribed to it, in
    the caller's transaction (one statement however many)."""
    if data:
        await insert_event(connection, org_id, type, [payload(type, item) for item in data])


# --- delivery ------------------------------------------------------------------------------


@dataclass
class Attempt:
    """How one attempt went: ``error`` is None for a 2xx."""

    error: str | None
    status: int | None = None
    body: str | None = None  # the start of the response body


class WebhookSender:
    """Sends deliveries as jobs of the app's ``JobWorker`` (``services(app).webhooks``);
    its times come from the worker's clock, so tests can travel."""

    def __init__(self, settings: Settings, worker: JobWorker) -> None:
        self.secret_key = settings.secret_key
        self.allow_private = settings.webhooks_allow_private
        self.worker = worker
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._db: Database | None = None
        self._retention: asyncio.Task[None] | None = None
        worker.register(
            JobKind(
                DELIVERY_JOB,
                self.deliver,
                retry_delays=RETRY_DELAYS,
                lease_seconds=3 * TOTAL_TIMEOUT / 2,
                concurrency=PER_INSTANCE,
                per_lane=PER_ENDPOINT,  # each delivery's lane is its endpoint
            )
        )

    def now(self) -> datetime:
        return self.worker.clock()

    def seal(self, secret: str) -> str:
        return seal(self.secret_key, SEALING_PURPOSE, secret)

    async def start(self, db: Database) -> None:
        self._db = db
        self._retention = asyncio.create_task(self._purge_periodically(), name="kurz-webhooks")

    async def stop(self) -> None:
        await cancel_and_wait(self._retention)
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def purge(self) -> int:
        """Retention: delivered deliveries go after DELIVERED_KEPT, failed ones after
        FAILED_KEPT, and their events with them."""
        assert self._db is not None, "start() first"
        now = self.now()
        return await delete_expired_deliveries(self._db, now - DELIVERED_KEPT, now - FAILED_KEPT)

    async def _purge_periodically(self) -> None:
        while True:
            try:
                deleted = await self.purge()
                if deleted:
                    log.info("webhooks retention: deleted %d deliveries", deleted)
            except Exception as error:
                log.warning("webhooks retention failed (%s: %s)", type(error).__name__, error)
            await asyncio.sleep(RETENTION_EVERY_SECONDS)

    async def deliver(self, db: Database, job: Job) -> None:
        """The job handler: one attempt of one delivery."""
        async with raw_connection(db) as raw:
            outgoing = await select_outgoing(raw, job.payload["delivery_id"])
        if outgoing is None or outgoing.status != "pending":
            return  # deleted with its endpoint, or retried by hand meanwhile and done
        if not outgoing.enabled and outgoing.type != "ping":
            await self._record(db, outgoing, job, Attempt("The endpoint is disabled."), 0, True)
            return
        started = time.monotonic()
        attempt = await self._send(outgoing)
        duration_ms = round((time.monotonic() - started) * 1000)
        final = job.payload.get("once", False) or job.attempts > len(RETRY_DELAYS)
        await self._record(db, outgoing, job, attempt, duration_ms, final)
        if attempt.error is not None and not final:
            raise RetryLater(RETRY_DELAYS[job.attempts - 1], attempt.error)

    async def _record(
        self,
        db: Database,
        outgoing: Outgoing,
        job: Job,
        attempt: Attempt,
        duration_ms: int,
        final: bool,
    ) -> None:
        now = self.now()
        ok = attempt.error is None
        if ok:
            status, next_at = "delivered", None
        elif final:
            status, next_at = "failed", None
        else:
            status, next_at = "pending", now + timedelta(seconds=RETRY_DELAYS[job.attempts - 1])
        async with raw_connection(db) as raw:
            await update_attempt(
                raw,
                outgoing.delivery_id,
                at=now,
                status=status,
                response_status=attempt.status,
                response_body=attempt.body,
                duration_ms=duration_ms,
                error=attempt.error,
                next_attempt_at=next_at,
                disable_after=DISABLE_AFTER.total_seconds(),
                disabled_reason=f"Every delivery failed for {DISABLE_AFTER.days} days; last: "
                f"{attempt.error}",
            )

    def _secrets(self, outgoing: Outgoing) -> list[str]:
        sealed = [outgoing.secret]
        if outgoing.previous_secret and (
            outgoing.previous_secret_until and outgoing.previous_secret_until > self.now()
        ):
            sealed.append(outgoing.previous_secret)
        try:
            return [unseal(self.secret_key, SEALING_PURPOSE, value) for value in sealed]
        except UnreadableSecret:
            raise ValueError(
                "The signing secret cannot be read (KURZ_SECRET_KEY changed?); rotate it."
            ) from None

    async def _send(self, outgoing: Outgoing) -> Attempt:
        """POST the event to an address checked now (not one the HTTP client resolves)."""
        parts = urlsplit(outgoing.url)
        try:
            addresses = await checked_addresses(outgoing.url, self.allow_private)
            signing_secrets = self._secrets(outgoing)
        except ValueError as error:
            return Attempt(str(error))
        body = outgoing.payload.encode()
        # The wall clock, not the worker's: receivers check it against theirs.
        signed_at = datetime.now(UTC)
        headers = {
            "Host": parts.netloc,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": outgoing.event_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": signature_header(
                signing_secrets, outgoing.event_id, signed_at, body
            ),
        }
        content = b""
        try:
            async with asyncio.timeout(TOTAL_TIMEOUT):
                response = await self._post(parts, addresses, body, headers)
                try:
                    async for chunk in response.aiter_raw():
                        content += chunk
                        if len(content) >= MAX_RESPONSE_READ:
                            break
                finally:
                    await response.aclose()
        except TimeoutError:
            return Attempt(f"No answer within {TOTAL_TIMEOUT:g} s.")
        except httpx.HTTPError as error:
            return Attempt(f"{type(error).__name__}: {error}"[:500])
        text = content[:MAX_RESPONSE_KEPT].decode(errors="replace")
        ok = 200 <= response.status_code < 300
        return Attempt(None if ok else f"HTTP {response.status_code}", response.status_code, text)

    async def _post(
        self, parts: SplitResult, addresses: list[str], body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        """The streamed answer of the first of ``addresses`` that takes the connection; the
        host's name goes in the Host header and the TLS server name (and certificate check)."""
        client = self._client(parts.hostname or "")
        for number, address in enumerate(addresses, 1):
            netloc = f"[{address}]" if ":" in address else address
            if parts.port:
                netloc += f":{parts.port}"
            request = client.build_request(
                "POST",
                urlunsplit(parts._replace(netloc=netloc)),
                content=body,
                headers=headers,
                extensions={"sni_hostname": parts.hostname},
            )
            try:
                return await client.send(request, stream=True)
            except httpx.ConnectError:
                if number == len(addresses):
                    raise
        raise AssertionError("checked_addresses never answers no address")

    def _client(self, host: str) -> httpx.AsyncClient:
        """One client per endpoint host: its pooled connections were all opened for that host
        (TLS server name included), so a connection is never reused for another."""
        client = self._clients.get(host)
        if client is None:
            client = self._clients[host] = httpx.AsyncClient(
                timeout=httpx.Timeout(TOTAL_TIMEOUT, connect=CONNECT_TIMEOUT),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=PER_ENDPOINT),
                trust_env=False,
            )
        return client
