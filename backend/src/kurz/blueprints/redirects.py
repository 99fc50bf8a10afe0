"""``GET``/``HEAD /<slug>``: the redirect, and its 404/410/429 answers; ``POST /<slug>``: a
protected link's password form.

Active cached links are usually answered before Quart by ``kurz.redirects.fast_path``; this route
answers the rest (and everything, should the fast path be absent) with the same cache. Links
with a password or a click limit are always answered here.

On a verified branded domain (``Host``) links are those of that domain; an unknown slug goes to
its ``not_found_url`` and ``/`` to its ``root_url`` when set, and nothing else is served there
(``serve_branded_domain`` runs before every other request hook).
"""

import math
import time
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, TimestampSigner
from quart import Blueprint, Response, current_app, request
from quart_rate_limiter import rate_exempt
from quart_schema import hide
from werkzeug.exceptions import HTTPException
from werkzeug.urls import iri_to_uri

from ..analytics.agents import MAX_USER_AGENT, classify
from ..analytics.geo import proxy_country
from ..auth import csrf_exempt, hash_secret
from ..errors import APIError, from_http_exception, problem_response
from ..models.domains import ServedDomain
from ..models.links import (
    count_password_failures,
    insert_password_failure,
    select_clicks_left,
    take_click,
)
from ..passwords import verify_password
from ..ratelimits import client_address
from ..redirects.cache import CachedLink
from ..redirects.headers import UNLOCK_COOKIE, redirect_headers
from ..redirects.rules import destination
from ..services import current_services, get_db, get_settings
from ..slugs import is_routable_slug
from .frontend import UI, render_page

blueprint = Blueprint("redirects", __name__)

# An error answer may change at any moment (the slug gets created, the link re-enabled).
NO_STORE = {"Cache-Control": "no-store"}
UNLOCK_DURATION = timedelta(hours=24)
PASSWORD_FAILURES = 5
PASSWORD_FAILURE_WINDOW = timedelta(minutes=1)


@blueprint.get("/<slug>")
@rate_exempt  # redirects are never throttled; unknown slugs have their own limit below
@hide
async def follow(slug: str) -> Response:
    """Redirect to the link's URL with its status; 404 unknown, 410 expired, disabled or used
    up (302 to its ``expired_url`` instead when it has one); a password-protected link asks
    for its password (a form for browsers, 401 ``LINK_PASSWORD_REQUIRED`` otherwise)."""
    link = await _find(slug)
    if isinstance(link, Response):
        return link
    if not link.active(time.time()):
        return _gone(link)
    if link.password_hash is not None and not _unlocked(slug, link):
        if not _prefers_html(["application/problem+json", "text/html"]):
            raise APIError(
                401, "LINK_PASSWORD_REQUIRED", "This link needs its password.", headers=NO_STORE
            )
        return _password_form(slug, 200)
    return await _redirect(link)


@blueprint.post("/<slug>")
@csrf_exempt
@hide
async def unlock(slug: str) -> Response:
    """The password form's answer (form field ``password``): the right one, the link's redirect
    and a cookie that spares this browser the form for a day; a wrong one, the form again with
    401; more than 5 wrong ones a minute from one address, 429."""
    link, _ = await _lookup(slug)
    if link is None or link.password_hash is None:  # the same answer whether the slug exists
        raise APIError(
            405,
            "METHOD_NOT_ALLOWED",
            "Only links with a password take a POST.",
            headers={"Allow": "GET, HEAD"},
        )
    if not link.active(time.time()):
        return _gone(link)
    failures_key = hash_secret(await client_address())
    wait = await _password_lockout(link, failures_key)
    if wait:
        message = "Too many wrong passwords; try again in a minute."
        headers = {"Retry-After": str(wait), **NO_STORE}
        if not _prefers_html(["text/html", "application/problem+json"]):
            raise APIError(429, "RATE_LIMITED", message, headers=headers)
        response = _password_form(slug, 429, message)
        response.headers.update(headers)
        return response
    password = (await request.form).get("password", "")
    if not await verify_password(password, link.password_hash):
        await insert_password_failure(
            get_db(), link.id, failures_key, int(PASSWORD_FAILURE_WINDOW.total_seconds())
        )
        if not _prefers_html(["text/html", "application/problem+json"]):
            raise APIError(401, "LINK_PASSWORD_REQUIRED", "Wrong password.", headers=NO_STORE)
        return _password_form(slug, 401, "Wrong password. Try again.")
    response = await _redirect(link)
    response.set_cookie(
        UNLOCK_COOKIE,
        _unlock_signer(slug, link).sign(str(link.id)).decode(),
        max_age=int(UNLOCK_DURATION.total_seconds()),
        path=f"/{slug}",
        secure=get_settings().cookie_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


async def _lookup(slug: str) -> tuple[CachedLink | None, ServedDomain | None]:
    """The link ``slug`` names on the domain of this request's ``Host``, and that domain (None:
    the default domain)."""
    services = current_services()
    domain = services.link_cache.served_domain(request.host)
    if not is_routable_slug(slug, services.reserved_slugs):
        return None, domain
    return await services.link_cache.lookup(slug, None if domain is None else domain.id), domain


async def _find(slug: str) -> CachedLink | Response:
    """The link, or the answer that there is none (404, or 429 when probing)."""
    link, domain = await _lookup(slug)
    if link is None:
        limit_unknown_slugs()
        if domain is not None and domain.not_found_url is not None:
            return _away(domain.not_found_url)
        return _error(404, "LINK_NOT_FOUND", "Link not found", "There is no link at this address.")
    return link


async def _redirect(link: CachedLink) -> Response:
    """The link's redirect for this visit (rules applied), once a limited link granted it."""
    user_agent = request.headers.get("User-Agent", "")
    client_ip = request.remote_addr or ""
    if link.limited and not await _click_granted(link, user_agent):
        return _gone(link)
    location = link.location
    if link.rules:
        location = destination(link.rules, location, user_agent, client_ip)
    if (country := request.headers.get("CF-IPCountry")) is not None:
        client_ip = proxy_country(request.scope, client_ip, country)
    current_services().clicks.record(
        link.id,
        method=request.method,
        user_agent=user_agent,
        referrer=request.headers.get("Referer", ""),
        client_ip=client_ip,
    )
    headers = redirect_headers(link.status, location)
    status = link.status
    if request.method == "POST" and status in (307, 308):
        status = 303  # 307 and 308 would make the browser post the password to the target
    if not link.plain:
        # A cached redirect would skip the password check, or miss the rules' other targets.
        headers.update(NO_STORE)
    return Response(status=status, headers=headers)


async def _click_granted(link: CachedLink, user_agent: str) -> bool:
    """A human visit takes one of the link's clicks; bots and HEAD only look whether any is
    left."""
    pool = current_services().link_cache.pool
    assert pool is not None  # open while the app serves
    if request.method == "HEAD" or classify(user_agent[:MAX_USER_AGENT]).bot:
        return await select_clicks_left(pool, link.id)
    return await take_click(pool, link.id)


def _gone(link: CachedLink) -> Response:
    if link.expired_location is not None:
        return Response(status=302, headers={"Location": link.expired_location, **NO_STORE})
    return _error(410, "LINK_GONE", "Link gone", "This link has expired or was disabled.")


def _unlock_signer(slug: str, link: CachedLink) -> TimestampSigner:
    secret_key = current_app.secret_key
    assert secret_key is not None  # create_app sets it
    # Salted with the password's hash: a new password ends every cookie given for the old one.
    return TimestampSigner(secret_key, salt=f"kurz.unlock\0{slug}\0{link.password_hash}")


def _unlocked(slug: str, link: CachedLink) -> bool:
    cookie = request.cookies.get(UNLOCK_COOKIE)
    if not cookie:
        return False
    try:
        value = _unlock_signer(slug, link).unsign(
            cookie, max_age=int(UNLOCK_DURATION.total_seconds())
        )
    except BadSignature:
        return False
    return value.decode() == str(link.id)


async def _password_lockout(link: CachedLink, failures_key: str) -> int:
    """Seconds until this address may try the link's password again; 0: now.

    Always on (also with ``KURZ_RATE_LIMITS=off``): it is part of what a password protects.
    """
    failures, oldest = await count_password_failures(
        get_db(), link.id, failures_key, int(PASSWORD_FAILURE_WINDOW.total_seconds())
    )
    if failures < PASSWORD_FAILURES or oldest is None:
        return 0
    retry_after = oldest + PASSWORD_FAILURE_WINDOW - datetime.now(UTC)
    return max(1, math.ceil(retry_after.total_seconds()))


def _password_form(slug: str, status: int, message: str = "") -> Response:
    page = render_page(UI, "password.html", slug=slug, message=message)
    return Response(page, status=status, content_type="text/html; charset=utf-8", headers=NO_STORE)


def _prefers_html(offered: list[str]) -> bool:
    """Whether the client prefers text/html; ``offered[0]`` wins when it has no preference."""
    return request.accept_mimetypes.best_match(offered) == "text/html"


async def serve_branded_domain() -> Response | None:
    """Before every request: on a branded domain, answer ``/`` and refuse all but redirects
    (404), before any other hook looks at sessions or orgs."""
    domain = current_services().link_cache.served_domain(request.host)
    if domain is None or request.endpoint in ("redirects.follow", "redirects.unlock"):
        return None
    if request.path == "/" and request.method in ("GET", "HEAD") and domain.root_url:
        return _away(domain.root_url)
    return _error(404, "NOT_FOUND", "Page not found", "There is nothing at this address.")


def _away(url: str) -> Response:
    return Response(status=302, headers=redirect_headers(302, iri_to_uri(url)))


def limit_unknown_slugs() -> None:
    """Spend the client's allowance for answers that tell a slug is unknown, or taken (409)."""
    if not get_settings().rate_limits:
        return
    wait = current_services().unknown_slugs.take(request.remote_addr or "")
    if wait:
        raise APIError(
            429,
            "RATE_LIMITED",
            "Too many requests for unknown links; slow down.",
            headers={"Retry-After": str(math.ceil(wait)), **NO_STORE},
        )


@blueprint.app_errorhandler(404)
async def not_found(error: HTTPException) -> Response:
    """A browser that mistypes a short URL (``/abc/``, ``/abc/x``) gets the page too; the API
    always answers problem+json."""
    if request.path.startswith("/api/"):
        return problem_response(from_http_exception(error))
    return _error(404, "NOT_FOUND", "Page not found", "There is nothing at this address.")


def _error(status: int, code: str, title: str, message: str) -> Response:
    """A small page for browsers, problem+json for everyone else."""
    if not _prefers_html(["application/problem+json", "text/html"]):
        return problem_response(APIError(status, code, message, headers=NO_STORE))
    page = render_page(UI, "error.html", title=title, message=message)
    return Response(page, status=status, content_type="text/html; charset=utf-8", headers=NO_STORE)
