"""Branded domains: hostname rules, the DNS TXT challenge, and the background re-checks.

Verification asks DNS for the TXT record ``_kurz-challenge.<hostname>`` with dnspython's async
resolver, through ``KURZ_DNS_NAMESERVERS`` when set (else the system's resolver).

Re-checks: every instance runs ``DomainChecker``, which claims verified domains whose last check
is older than ``KURZ_DOMAIN_CHECK_SECONDS`` one at a time (a row claim with ``SKIP LOCKED``, so
each domain is checked by one instance). DNS flaps and records get edited by mistake, and
un-verifying a domain breaks every live link on it, so a failed check only counts: the domain
keeps serving, and is un-verified only after ``FAILURES_TO_UNVERIFY`` failed checks in a row
spanning at least ``FAILING_DAYS_TO_UNVERIFY`` days. A successful check resets the count.
"""

import asyncio
import contextlib
import ipaddress
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
import idna
from databases import Database

from .background import cancel_and_wait
from .config import Settings, split_nameserver
from .errors import APIError, validation_error
from .models.domains import claim_due_domain, record_check

log = logging.getLogger(__name__)

CHALLENGE_PREFIX = "_kurz-challenge."
DNS_TIMEOUT_SECONDS = 5.0
FAILURES_TO_UNVERIFY = 3
FAILING_DAYS_TO_UNVERIFY = 3
# Top-level names that are never public DNS (RFC 6761, 6762, 7686, 8375, ICANN's .internal,
# and common private-network suffixes). Not .example: documentation, and tests that cannot use a
# real name, spell branded domains with it.
PRIVATE_TLDS = frozenset(
    {
        "localhost",
        "local",
        "internal",
        "test",
        "invalid",
        "onion",
        "arpa",
        "alt",
        "lan",
        "home",
        "corp",
        "localdomain",
        "intranet",
        "private",
    }
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def own_hostname(base_url: str) -> str:
    return (urlsplit(base_url).hostname or "").rstrip(".").lower()


def normalise_hostname(raw: str, base_url: str | None = None) -> str:
    """The hostname as stored (lower case, IDNA, no trailing dot), else 400 INVALID_DOMAIN;
    with ``base_url``, the service's own host is refused too."""
    host = raw.strip().rstrip(".").lower()
    if not host or len(host) > 253 or any(char in host for char in ":/@[]\\ \t"):
        raise _invalid("Give a host name only, such as go.example.com.")
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        raise _invalid("An IP address cannot be a domain; give a host name.")
    try:
        host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise _invalid("The host name is not a valid internationalised domain name.") from None
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _invalid("The host name is not valid.")
    if len(labels) < 2 or labels[-1] in PRIVATE_TLDS or labels[-1].isdigit():
        raise _invalid("The host name is not a public DNS name.")
    if base_url is not None and host == own_hostname(base_url):
        raise _invalid("This is the service's own host, the default domain of every org.")
    return host


def stored_hostname(name: str) -> str:
    """The stored form of a hostname given to look a domain up (a path, a query, a URL's host),
    so that ``bücher.example`` finds its domain too; a name that is not valid matches none."""
    try:
        return normalise_hostname(name)
    except APIError:
        return name


def _invalid(message: str) -> APIError:
    return validation_error("hostname", message, "INVALID_DOMAIN")


def new_verification_value() -> str:
    return "kurz-verification=" + secrets.token_urlsafe(24)


def challenge_name(hostname: str) -> str:
    return CHALLENGE_PREFIX + hostname


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str  # what DNS answered, in words for the admin


def _resolver(settings: Settings) -> dns.asyncresolver.Resolver:
    if not settings.dns_nameservers:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(*split_nameserver(server))
            for server in settings.dns_nameservers
        ]
    resolver.lifetime = DNS_TIMEOUT_SECONDS
    resolver.timeout = DNS_TIMEOUT_SECONDS / 2
    resolver.cache = None  # an admin who just created the record wants it seen now
    return resolver


async def check_challenge(settings: Settings, hostname: str, expected: str) -> CheckResult:
    """Whether ``_kurz-challenge.<hostname>`` has a TXT record equal to ``expected``."""
    name = challenge_name(hostname)
    try:  # the system's resolver configuration is read here, and may be missing
        answer = await _resolver(settings).resolve(name, "TXT", search=False)
    except dns.resolver.NXDOMAIN:
        return CheckResult(False, f"DNS answered that {name} does not exist (NXDOMAIN).")
    except dns.resolver.NoAnswer:
        return CheckResult(False, f"DNS answered that {name} has no TXT record.")
    except dns.resolver.NoNameservers:
        return CheckResult(False, f"No DNS server could answer for {name} (SERVFAIL).")
    except dns.exception.Timeout:
        return CheckResult(False, f"DNS did not answer for {name} in time.")
    except dns.exception.DNSException as error:
        return CheckResult(False, f"DNS lookup of {name} failed: {error}")
    values = [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
    if expected in values:
        return CheckResult(True, f"DNS answered the expected TXT record at {name}.")
    found = ", ".join(repr(value[:100]) for value in values[:5])
    return CheckResult(False, f"DNS answered other TXT values at {name}: {found}.")


class DomainChecker:
    """Re-checks verified domains in the background (see the module's docstring)."""

    def __init__(self, settings: Settings, *, poll_seconds: float = 60.0) -> None:
        self.settings = settings
        self.poll_seconds = min(poll_seconds, settings.domain_check_seconds)
        self._task: asyncio.Task[None] | None = None

    async def start(self, db: Database) -> None:
        self._task = asyncio.create_task(self._run(db), name="kurz-domain-checker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self, db: Database) -> None:
        while True:
            try:
                await recheck_due_domains(db, self.settings)
            except Exception as error:  # the next round retries; redirects never depend on it
                log.warning("domain re-check failed: %s: %s", type(error).__name__, error)
            await asyncio.sleep(self.poll_seconds)


async def recheck_due_domains(db: Database, settings: Settings) -> int:
    """Check every verified domain whose last check is due; returns how many were checked."""
    every = timedelta(seconds=settings.domain_check_seconds)
    checked = 0
    while (domain := await claim_due_domain(db, every)) is not None:
        result = await check_challenge(settings, domain.hostname, domain.verification_value)
        unverified = await record_check(
            db,
            domain.id,
            ok=result.ok,
            detail=result.detail,
            failures_to_unverify=FAILURES_TO_UNVERIFY,
            failing_for=timedelta(days=FAILING_DAYS_TO_UNVERIFY),
        )
        if unverified:
            log.warning("domain %s un-verified: %s", domain.hostname, result.detail)
        checked += 1
    return checked
