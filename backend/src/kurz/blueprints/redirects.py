"""``GET``/``HEAD /<slug>``: the redirect, and its 404/410/429 answers.

Active cached links are usually answered before Quart by ``kurz.fast_redirects``; this route
answers the rest (and everything, should the fast path be absent) with the same cache.
"""

import math
import time

from quart import Blueprint, Response, current_app, request
from quart_rate_limiter import rate_exempt
from quart_schema import hide
from werkzeug.exceptions import HTTPException

from ..analytics.geo import proxy_country
from ..errors import APIError, from_http_exception, problem_response
from ..fast_redirects import redirect_headers
from ..slugs import is_routable_slug, reserved_words
from .frontend import UI, render_page

blueprint = Blueprint("redirects", __name__)

# An error answer may change at any moment (the slug gets created, the link re-enabled).
NO_STORE = {"Cache-Control": "no-store"}


@blueprint.get("/<slug>")
@rate_exempt  # redirects are never throttled; unknown slugs have their own limit below
@hide
async def follow(slug: str) -> Response:
    """Redirect to the link's URL with its status; 404 unknown, 410 expired or disabled."""
    app = current_app
    link = None
    if is_routable_slug(slug, reserved_words(app)):
        link = await app.extensions["kurz.links_cache"].lookup(slug)
    if link is None:
        _limit_unknown_slugs()
        return _error(404, "LINK_NOT_FOUND", "Link not found", "There is no link at this address.")
    if not link.active(time.time()):
        return _error(410, "LINK_GONE", "Link gone", "This link has expired or was disabled.")
    client_ip = request.remote_addr or ""
    if (country := request.headers.get("CF-IPCountry")) is not None:
        client_ip = proxy_country(request.scope, client_ip, country)
    app.extensions["kurz.clicks"].record(
        link.id,
        method=request.method,
        user_agent=request.headers.get("User-Agent", ""),
        referrer=request.headers.get("Referer", ""),
        client_ip=client_ip,
    )
    return Response(status=link.status, headers=redirect_headers(link.status, link.location))


def _limit_unknown_slugs() -> None:
    if not current_app.config["KURZ"].rate_limits:
        return
    wait = current_app.extensions["kurz.unknown_slugs"].take(request.remote_addr or "")
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
    accepted = request.accept_mimetypes.best_match(["application/problem+json", "text/html"])
    if accepted != "text/html":
        return problem_response(APIError(status, code, message, headers=NO_STORE))
    page = render_page(UI, "error.html", title=title, message=message)
    return Response(page, status=status, content_type="text/html; charset=utf-8", headers=NO_STORE)
