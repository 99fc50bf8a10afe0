"""The redirect fast path: a small ASGI layer in front of Quart for ``GET``/``HEAD /<slug>``.

Redirects are nearly all of Kurz's traffic, and a Quart route pays for request and app
contexts, hooks, routing and response objects on each one. This layer answers the common case,
an active link found in the in-process cache (``redirect_cache``), straight from the ASGI scope:
status, ``Location``, ``Cache-Control`` and the security headers, then records the click.
Everything else is passed to Quart untouched: other paths, other methods, reserved words,
unknown, expired and disabled links (the ``redirects`` blueprint answers those with the HTML or
problem+json error pages and the unknown-slug rate limit), links with a password or a click
limit (they need a cookie check or a database write), and any database error (Quart turns it
into a 503). Links with targeting rules stay here: their rules are evaluated from the cached
entry. Ordinary links pay one flag test for all of the link controls. The Quart route alone is
a complete implementation; this layer only makes the common case fast, and both use the same
cache and the same ``redirect_headers``.

It wraps ``app.asgi_app``, so uvicorn and ``app.test_client()`` both go through it.

Caching by browsers: 302 and 307 are ``no-store`` so that every visit reaches Kurz and is
counted. 301 and 308 say "permanent", and browsers would otherwise keep them forever; they may
be cached for an hour (``private``: by browsers, not shared proxies), which bounds how long a
browser that saw one keeps going to the old target after an edit, disable or delete.
"""

import time
from collections import OrderedDict

from quart import Quart

from .analytics.geo import COUNTRY_HEADER, proxy_country
from .database import get_db, links_channel
from .link_rules import destination
from .redirect_cache import CachedLink, LinkCache, LinkListener, asyncpg_dsn
from .security import security_headers
from .slugs import is_routable_slug, reserved_words

CACHE_CONTROL = {
    301: "private, max-age=3600",
    302: "no-store",
    307: "no-store",
    308: "private, max-age=3600",
}
_SECURITY = {
    https: [(name.lower().encode(), value.encode()) for name, value in security_headers(https)]
    for https in (False, True)
}
# Remembers, per browser, that a password-protected link was unlocked (see blueprints/redirects).
UNLOCK_COOKIE = "kurz_unlock"
UNLOCK_COOKIE_PREFIX = f"{UNLOCK_COOKIE}=".encode()
_CACHE_CONTROL = {status: value.encode() for status, value in CACHE_CONTROL.items()}


def redirect_headers(status: int, location: str) -> dict[str, str]:
    """The headers of a redirect answer (security headers are added by whoever sends it)."""
    return {"Location": location, "Cache-Control": CACHE_CONTROL[status]}


class FastRedirects:
    """ASGI middleware: ``app.asgi_app = FastRedirects(app, app.asgi_app)``."""

    def __init__(self, app: Quart, inner) -> None:
        self.app = app
        self.inner = inner
        self.cache: LinkCache = app.extensions["kurz.links_cache"]

    async def __call__(self, scope, receive, send) -> None:
        # Most installations have no branded domain, and never look at the Host header.
        if self.cache.domains and scope["type"] == "http":
            domain = self.cache.served_domain(_host(scope))
            if domain is not None:
                await self._branded(domain.id, scope, receive, send)
                return
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not await self._answer(scope, send)
        ):
            await self.inner(scope, receive, send)

    async def _branded(self, domain_id: int, scope, receive, send) -> None:
        """A branded domain serves its redirects only (the ``redirects`` blueprint refuses the
        rest): no cookie but a protected link's unlock cookie is ever honoured or set there."""
        if scope["method"] in ("GET", "HEAD") and await self._answer(scope, send, domain_id):
            return

        async def send_unlock_cookies_only(message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message["headers"]
                    if name.lower() != b"set-cookie" or value.startswith(UNLOCK_COOKIE_PREFIX)
                ]
                message = {**message, "headers": headers}
            await send(message)

        headers = []
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookies = [c.strip() for c in value.split(b";")]
                value = b"; ".join(c for c in cookies if c.startswith(UNLOCK_COOKIE_PREFIX))
                if not value:
                    continue
            headers.append((name, value))
        await self.inner({**scope, "headers": headers}, receive, send_unlock_cookies_only)

    async def _answer(self, scope, send, domain_id: int | None = None) -> bool:
        """Send the redirect and return True, or return False to let Quart answer."""
        slug = scope["path"][1:]
        if self.cache.pool is None or not is_routable_slug(slug, reserved_words(self.app)):
            return False
        try:
            link = await self.cache.lookup(slug, domain_id)
        except Exception:  # Quart looks again, and answers 503 (and logs) if it fails too
            return False
        if link is None or not link.active(time.time()):
            return False
        location, cache_control = link.location, _CACHE_CONTROL[link.status]
        if not link.plain:
            if link.password_hash is not None or link.limited:
                return False
            # A browser caching a 301 would keep one rule's target for its other visits.
            location, cache_control = _target(link, scope), b"no-store"
        await send(
            {
                "type": "http.response.start",
                "status": link.status,
                "headers": [
                    (b"location", location.encode()),
                    (b"cache-control", cache_control),
                    (b"content-length", b"0"),
                    *_SECURITY[scope.get("scheme") == "https"],
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        user_agent = referrer = ""
        country = None
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == b"referer":
                referrer = value.decode("latin-1")
            elif name == COUNTRY_HEADER:
                country = value
        client = scope.get("client")
        client_ip = client[0] if client else ""
        if country is not None:
            client_ip = proxy_country(scope, client_ip, country)
        self.app.extensions["kurz.clicks"].record(
            link.id,
            method=scope["method"],
            user_agent=user_agent,
            referrer=referrer,
            client_ip=client_ip,
        )
        return True


def _host(scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            return value.decode("latin-1")
    return ""


def _target(link: CachedLink, scope) -> str:
    """Where the link's rules send this visit."""
    user_agent = ""
    for name, value in scope["headers"]:
        if name == b"user-agent":
            user_agent = value.decode("latin-1")
            break
    client = scope.get("client")
    return destination(link.rules, link.location, user_agent, client[0] if client else "")


def install(app: Quart) -> None:
    """Put the cache, its listener and the fast path in place (after the pool is opened)."""
    cache = app.extensions["kurz.links_cache"] = LinkCache()
    app.extensions["kurz.unknown_slugs"] = UnknownSlugLimiter()
    app.asgi_app = FastRedirects(app, app.asgi_app)

    @app.before_serving
    async def open_cache() -> None:
        settings = app.config["KURZ"]
        dsn = asyncpg_dsn(str(get_db().url))
        await cache.open(dsn, schema=settings.db_schema, query_seconds=settings.db_query_timeout)
        await cache.load_domains()
        listener = app.extensions["kurz.links_listener"] = LinkListener(
            cache, dsn, channel=links_channel(settings.db_schema)
        )
        await listener.start()

    @app.after_serving
    async def close_cache() -> None:
        await app.extensions.pop("kurz.links_listener").stop()
        await cache.close()


class UnknownSlugLimiter:
    """Token buckets per client address for answers "no such slug": slows slug enumeration.

    Only unknown slugs spend tokens, so redirects to existing links are never throttled (a
    load balancer's address may carry thousands of real visitors). In memory and bounded: the
    least recently seen addresses are forgotten first.
    """

    def __init__(
        self, burst: int = 60, per_second: float = 1.0, max_clients: int = 10_000
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    @property
    def clients(self) -> int:
        """How many client addresses it keeps a bucket for (at most ``max_clients``)."""
        return len(self._buckets)

    def take(self, client: str) -> float:
        """Spend a token: 0 when there was one, else the seconds until there is one."""
        now = time.monotonic()
        tokens, since = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - since) * self.per_second)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.per_second
        self._buckets[client] = (tokens - 1 if tokens >= 1 else tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait
