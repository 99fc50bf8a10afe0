"""The app's services, typed, and the one place that starts and stops them in order.

``create_app()`` builds one ``Services`` and ``attach()``-es it; code reads it with
``services(app)``, or ``current_services()`` / ``get_settings()`` / ``get_db()`` inside a
request or app context.

Start: the pool, migrations, the link cache and its listener, then the services that use them,
the job worker last (its jobs send webhooks, mail and imports that evict cached links). Stop:
the same, in reverse, so the click recorder's final flush comes before the pool closes. Under
``python -m kurz`` the job worker has a process of its own (``Settings.role``): the server's
processes start what serves requests, that process the webhooks' retention and the worker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from quart import Quart, current_app

from .database import close, connect, database_url, links_channel
from .migrations import migrate
from .redirects.cache import LinkListener, asyncpg_dsn

if TYPE_CHECKING:  # imported for their types only: several of them read their services here
    from databases import Database
    from quart_rate_limiter import RateLimiter

    from .analytics.recorder import ClickRecorder
    from .config import Settings
    from .domains import DomainChecker
    from .jobs import JobWorker
    from .oidc import Provider
    from .passwords import HashingGate
    from .redirects.cache import LinkCache
    from .redirects.unknown_slugs import UnknownSlugLimiter
    from .webhooks import WebhookSender

log = logging.getLogger("kurz")

_EXTENSION = "kurz"


@dataclass
class Services:
    """Everything an app runs besides its routes; one per app."""

    settings: Settings
    rate_limiter: RateLimiter
    hashing: HashingGate
    # Every word a slug may not be: computed once all routes are registered.
    reserved_slugs: frozenset[str]
    link_cache: LinkCache
    unknown_slugs: UnknownSlugLimiter
    clicks: ClickRecorder
    webhooks: WebhookSender
    domain_checker: DomainChecker
    # Deferred work (mail, webhook deliveries, imports); features register their job kinds.
    jobs: JobWorker
    # While serving (start() to stop()):
    pool: Database | None = None
    link_listener: LinkListener | None = None
    # Made on first use:
    oidc: Provider | None = None
    asset_versions: dict[str, str] | None = None

    @property
    def db(self) -> Database:
        """The pool; ``databases`` hands each task its own connection from it."""
        if self.pool is None:
            raise RuntimeError("the database pool is open only while the app is serving")
        return self.pool

    async def start(self) -> None:
        settings = self.settings
        db = self.pool = await connect(database_url(settings), settings)
        for path in await migrate(db, settings.migrations_dir, settings.db_schema):
            log.info("applied migration %s", path.name)
        if settings.runs_web:
            explain_mail_settings(settings)
            dsn = asyncpg_dsn(str(db.url))
            await self.link_cache.open(
                dsn, schema=settings.db_schema, query_seconds=settings.db_query_timeout
            )
            await self.link_cache.load_domains()
            self.link_listener = LinkListener(
                self.link_cache, dsn, channel=links_channel(settings.db_schema)
            )
            await self.link_listener.start()
            await self.clicks.start(db)
            await self.domain_checker.start(db)
        if settings.runs_jobs:
            await self.webhooks.start(db)
            await self.jobs.start(db)

    async def stop(self) -> None:
        if self.settings.runs_jobs:
            await self.jobs.stop()
            await self.webhooks.stop()
        if self.settings.runs_web:
            await self.domain_checker.stop()
            await self.clicks.stop()
            if self.link_listener is not None:
                await self.link_listener.stop()
                self.link_listener = None
            await self.link_cache.close()
        if self.pool is not None:
            await close(self.pool)
            self.pool = None


def attach(app: Quart, services: Services) -> None:
    """Make ``services`` the app's, started before it serves and stopped after."""
    app.extensions[_EXTENSION] = services
    app.before_serving(services.start)
    app.after_serving(services.stop)


def services(app: Quart) -> Services:
    return cast(Services, app.extensions[_EXTENSION])


def current_services() -> Services:
    return cast(Services, current_app.extensions[_EXTENSION])


def get_settings() -> Settings:
    return current_services().settings


def get_db() -> Database:
    """The app's pool; ``databases`` hands each task its own connection from it."""
    return current_services().db


def explain_mail_settings(settings: Settings) -> None:
    if not settings.smtp_url:
        log.warning("KURZ_SMTP_URL is not set: mail is not sent, only written to this log")
    if not settings.require_email_verification:
        log.warning(
            "Email verification is off (KURZ_REQUIRE_EMAIL_VERIFICATION=false): whoever "
            "registers an address is trusted to own it, so they receive that address's pending "
            "invitations (with their role) and are added at once when an admin adds that "
            "address. Configure mail to turn it on."
        )
