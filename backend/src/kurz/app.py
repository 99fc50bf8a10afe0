"""``create_app()``: configuration, extensions, blueprints and the app's services."""

from datetime import timedelta
from types import TracebackType
from typing import Any

from quart import Quart, Request, Response, request
from quart.globals import request_ctx
from quart_auth import QuartAuth
from quart_rate_limiter import RateLimit
from quart_schema import QuartSchema

from .accounts import password_reset_job
from .analytics.geo import use_database
from .analytics.recorder import ClickRecorder
from .auth import SESSION_COOKIE, SESSION_DURATION, authorise_org, check_csrf
from .blueprints import (
    accounts,
    audit,
    domains,
    frontend,
    imports,
    links,
    members,
    ops,
    orgs,
    redirects,
    sessions,
    sso,
    stats,
    tags,
    tokens,
    users,
    webhooks,
)
from .config import Settings, StartupError
from .domains import DomainChecker
from .errors import register_error_handlers
from .imports import import_kind
from .jobs import JobWorker
from .mail import mail_job
from .passwords import HashingGate
from .ratelimits import KurzRateLimiter, client_address
from .redirects import fast_path
from .redirects.cache import LinkCache
from .redirects.unknown_slugs import UnknownSlugLimiter
from .schemas import KurzOpenAPIProvider
from .security import security_headers
from .services import Services, attach, services
from .slugs import reserved_words
from .uploads import LARGE_BODIES
from .webhooks import WebhookSender

# redirects last: its catch-all /<slug> must not shadow anything.
BLUEPRINTS = (
    ops,
    frontend,
    sessions,
    users,
    accounts,
    sso,
    orgs,
    members,
    tokens,
    links,
    domains,
    stats,
    tags,
    imports,
    audit,
    webhooks,
    redirects,
)


class KurzRequest(Request):
    """A request whose body may be as large as its route allows (``LARGE_BODIES``); every other
    body is held to ``KURZ_MAX_BODY_BYTES``. Decided before routing, from the method and path,
    since Quart sizes the body's buffer when the request arrives."""

    def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any) -> None:
        if method == "POST":
            for pattern, limit in LARGE_BODIES:
                if pattern.fullmatch(path):
                    kwargs["max_content_length"] = limit
        super().__init__(method, scheme, path, *args, **kwargs)


class Kurz(Quart):
    request_class = KurzRequest

    def log_exception(
        self,
        exception_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
    ) -> None:
        # A refused start-up is explained by its message, which the server prints on one line.
        if not isinstance(exception_info[1], StartupError):
            super().log_exception(exception_info)

    async def make_default_options_response(self) -> Response:
        # An OPTIONS answer says what its Allow header says, and nothing else. The methods are
        # those of the route that matched: /links/batch is not also /links/{slug}.
        matched = request_ctx.request.url_rule
        assert matched is not None  # OPTIONS is answered here only for a route that matched
        rules = [rule for rule in self.url_map.iter_rules() if rule.rule == matched.rule]
        methods = sorted({method for rule in rules for method in rule.methods or ()})
        return self.response_class(status=204, headers={"Allow": ", ".join(methods)})


def create_app(settings: Settings | None = None) -> Kurz:
    settings = settings or Settings.from_env()
    app = Kurz(__name__, static_folder=None)
    # /api//v1/orgs is no route (404 problem+json), not a redirect that a client would follow
    # with its method and body.
    app.url_map.merge_slashes = False
    # Read by Quart and its extensions; Kurz's own code reads ``get_settings()``.
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        QUART_AUTH_COOKIE_NAME=SESSION_COOKIE,
        QUART_AUTH_COOKIE_SECURE=settings.cookie_secure,
        QUART_AUTH_COOKIE_SAMESITE="Strict",
        QUART_AUTH_COOKIE_HTTP_ONLY=True,
        QUART_AUTH_DURATION=int(SESSION_DURATION.total_seconds()),
        QUART_RATE_LIMITER_ENABLED=settings.rate_limits,
    )
    QuartAuth(app)
    QuartSchema(
        app,
        info={"title": "Kurz API", "version": "1"},
        openapi_path="/openapi.json",
        # /docs is served by the frontend blueprint with self-hosted assets.
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        security_schemes={
            "session": {"type": "apiKey", "in_": "cookie", "name": SESSION_COOKIE},
            "token": {"type": "http", "scheme": "bearer"},
        },
        openapi_provider_class=KurzOpenAPIProvider,
    )
    # A default for every route; sensitive routes set tighter ones, and a test checks coverage.
    rate_limiter = KurzRateLimiter(
        app, key_function=client_address, default_limits=[RateLimit(600, timedelta(minutes=1))]
    )
    register_error_handlers(app)
    app.before_request(redirects.serve_branded_domain)  # first: a branded domain serves no API
    app.before_request(check_csrf)
    app.before_request(authorise_org)
    app.after_request(finish_headers)
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)

    use_database(settings.geoip_db)
    jobs = JobWorker(poll_seconds=settings.job_poll_seconds)
    attach(
        app,
        Services(
            settings=settings,
            rate_limiter=rate_limiter,
            hashing=HashingGate(),
            reserved_slugs=reserved_words(app),
            link_cache=LinkCache(),
            unknown_slugs=UnknownSlugLimiter(),
            # The redirect path records clicks here.
            clicks=ClickRecorder(settings),
            webhooks=WebhookSender(settings, jobs),
            domain_checker=DomainChecker(settings),
            jobs=jobs,
        ),
    )
    jobs.register(import_kind(app))
    jobs.register(mail_job(settings))
    jobs.register(password_reset_job(settings, jobs))

    @app.before_serving
    async def reserve_later_routes() -> None:
        # A route added after create_app() (by an extension, or a test) is reserved too.
        services(app).reserved_slugs = reserved_words(app)

    # The ASGI redirect fast path, in front of Quart.
    fast_path.install(app)
    return app


async def finish_headers(response: Response) -> Response:
    """Security headers on every answer; no Content-Type on one without a body.

    API answers depend on who asks, so no cache (a browser's or a proxy's) keeps them or hands
    one caller's answer to another.
    """
    for name, value in security_headers(request.scheme == "https"):
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
        response.vary.update(("Cookie", "Authorization"))
    if response.status_code == 204:
        response.headers.pop("Content-Type", None)  # Quart's default; there is no body to type
    return response
