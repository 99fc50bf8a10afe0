"""The redirect fast path: a small ASGI layer in front of Quart for ``GET``/``HEAD /<slug>``.

Redirects are nearly all of Kurz's traffic, and a Quart route pays for request and app
contexts, hooks, routing and response objects on each one. This layer answers the common case,
an active link found in the in-process cache (``cache``), straight from the ASGI scope:
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
"""

import time
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart

from ..analytics.geo import COUNTRY_HEADER, proxy_country
from ..security import security_headers
from ..services import Services, services
from ..slugs import is_routable_slug
from .cache import CachedLink
from .headers import CACHE_CONTROL, UNLOCK_COOKIE
from .rules import destination

_SECURITY = {
    https: [(name.lower().encode(), value.encode()) for name, value in security_headers(https)]
    for https in (False, True)
}
UNLOCK_COOKIE_PREFIX = f"{UNLOCK_COOKIE}=".encode()
_CACHE_CONTROL = {status: value.encode() for status, value in CACHE_CONTROL.items()}

# ASGI as this layer sees it: plain dicts, read only for the keys it needs.
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FastRedirects:
    """ASGI middleware: ``app.asgi_app = FastRedirects(services(app), app.asgi_app)``."""

    def __init__(self, services: Services, inner: ASGIApp) -> None:
        self.inner = inner
        # Resolved once here: a redirect pays no lookup for them.
        self.cache = services.link_cache
        self.clicks = services.clicks
        self.services = services  # its reserved slugs are set again when serving starts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Most installations have no branded domain, and never look at the Host header.
        if self.cache.domains and scope["type"] == "http":
            domain = self.cache.served_domain(request_host(scope))
            if domain is not None:
                await self._branded(domain.id, scope, receive, send)
                return
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not await self._answer(scope, send)
        ):
            await self.inner(scope, receive, send)

    async def _branded(self, domain_id: int, scope: Scope, receive: Receive, send: Send) -> None:
        """A branded domain serves its redirects only (the ``redirects`` blueprint refuses the
        rest): no cookie but a protected link's unlock cookie is ever honoured or set there."""
        if scope["method"] in ("GET", "HEAD") and await self._answer(scope, send, domain_id):
            return

        async def send_unlock_cookies_only(message: Message) -> None:
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

    async def _answer(self, scope: Scope, send: Send, domain_id: int | None = None) -> bool:
        """Send the redirect and return True, or return False to let Quart answer."""
        slug = scope["path"][1:]
        if self.cache.pool is None or not is_routable_slug(slug, self.services.reserved_slugs):
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
        self.clicks.record(
            link.id,
            method=scope["method"],
            user_agent=user_agent,
            referrer=referrer,
            client_ip=client_ip,
        )
        return True


def request_host(scope: Scope) -> str:
    """The request's Host header, as sent ("" without one)."""
    for name, value in scope["headers"]:
        if name == b"host":
            host: str = value.decode("latin-1")
            return host
    return ""


def _target(link: CachedLink, scope: Scope) -> str:
    """Where the link's rules send this visit."""
    user_agent = ""
    for name, value in scope["headers"]:
        if name == b"user-agent":
            user_agent = value.decode("latin-1")
            break
    client = scope.get("client")
    return destination(link.rules, link.location, user_agent, client[0] if client else "")


def install(app: Quart) -> None:
    """Put the fast path in front of ``app`` (its services must be attached)."""
    # Quart's way of adding ASGI middleware; its ASGI types are stricter than this layer's.
    app.asgi_app = FastRedirects(  # type: ignore[method-assign, assignment]
        services(app), app.asgi_app  # type: ignore[arg-type]
    )
