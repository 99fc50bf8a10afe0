"""Rate limits beyond the app-wide default: per org for link creation, tight ones for logging in.

Link creation is limited per org. Login and registration are limited per client address
(quart-rate-limiter) and per email: registration by attempts, login by *failed* attempts,
counted in the database so that every worker shares them and a correct password after many
wrong ones is refused until the window has passed (otherwise the limit would not slow guessing
down). Failed logins lock out the address they came from; the email as a whole only after many
more, so that a few wrong guesses from anywhere cannot lock its owner out.
``KURZ_RATE_LIMITS=off`` turns all of it off.
"""

import math
from datetime import UTC, datetime, timedelta

from quart import Quart, current_app, request
from quart_rate_limiter import RateLimit, RateLimiter

from .auth import hash_secret, require_org_role
from .errors import APIError
from .models.users import count_login_failures, delete_login_failures, insert_login_failure
from .services import current_services, get_db, get_settings

LOGIN_FAILURES = 10  # per email and client address
LOGIN_FAILURES_PER_EMAIL = 100  # from all addresses together
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)


async def client_address() -> str:
    """The peer address; behind a proxy uvicorn's ``proxy_headers`` sets it from trusted hops.

    Not quart-rate-limiter's default (the first ``X-Forwarded-For`` entry), which any client
    could set to a new value on every request.
    """
    return request.remote_addr or "unknown"


def _email_key(email: str) -> str:
    return "email:" + hash_secret(email.strip().lower())


async def body_email() -> str:
    """The email of a JSON body (read before the route validates it), as a rate-limit key."""
    body = await request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return _email_key(email) if isinstance(email, str) else "email:none"


async def caller_org() -> str:
    """The route's org once the caller is known to belong to it, else the caller's address.

    So outsiders (answered 401/404 right after) cannot use up an org's allowance.
    """
    try:
        caller = await require_org_role((request.view_args or {})["org_id"])
    except APIError:
        return "address:" + await client_address()
    return "org:" + caller.org_id


class KurzRateLimiter(RateLimiter):
    """quart-rate-limiter's limiter, telling which limits it applies (so a test can check that
    every route has one)."""

    @property
    def default_limits(self) -> list[RateLimit]:
        """The app-wide limits, which every route that is not exempt spends."""
        return self._default_rate_limits

    def route_limits(self, app: Quart, endpoint: str) -> list[RateLimit]:
        """Every limit a request to ``endpoint`` spends: the route's own, its blueprint's and
        the app-wide ones; none if the route is exempt."""
        blueprint = app.blueprints.get(endpoint.rpartition(".")[0])
        return self._get_limits_for_view_function(app.view_functions[endpoint], blueprint)


# Per org, across all its members and tokens (on top of the per-address default): a runaway
# script cannot fill the table, and a bulk import of thousands of links still takes minutes.
LINK_CREATION_LIMITS = [RateLimit(300, timedelta(minutes=1), key_function=caller_org)]

# Generous enough for an office behind one NAT address, far too slow for guessing.
LOGIN_LIMITS = [
    RateLimit(20, timedelta(minutes=1), key_function=client_address),
    RateLimit(200, timedelta(hours=1), key_function=client_address),
]
REGISTRATION_LIMITS = [
    RateLimit(10, timedelta(minutes=1), key_function=client_address),
    RateLimit(50, timedelta(hours=1), key_function=client_address),
    RateLimit(5, timedelta(hours=1), key_function=body_email),
]

# Mail to one address is rare: these keep Kurz from being used to flood a mailbox.
PASSWORD_RESET_LIMITS = [
    RateLimit(5, timedelta(minutes=1), key_function=client_address),
    RateLimit(30, timedelta(hours=1), key_function=client_address),
    RateLimit(5, timedelta(hours=1), key_function=body_email),
]
MAIL_RESEND_LIMITS = [
    RateLimit(3, timedelta(minutes=1), key_function=client_address),
    RateLimit(10, timedelta(hours=1), key_function=client_address),
]


def _enabled() -> bool:
    return get_settings().rate_limits


async def _client_key() -> str:
    return "client:" + hash_secret(await client_address())


async def check_login_failures(email: str) -> None:
    """429 with ``Retry-After`` while the email has had too many failed logins recently from
    this client address, or far too many from all addresses."""
    if not _enabled():
        return
    window = int(LOGIN_FAILURE_WINDOW.total_seconds())
    failures = await count_login_failures(get_db(), _email_key(email), await _client_key(), window)
    oldest = None
    if failures.from_client >= LOGIN_FAILURES:
        oldest = failures.oldest_from_client
    elif failures.total >= LOGIN_FAILURES_PER_EMAIL:
        oldest = failures.oldest
    if oldest is not None:
        retry_after = oldest + LOGIN_FAILURE_WINDOW - datetime.now(UTC)
        raise APIError(
            429,
            "TOO_MANY_LOGIN_ATTEMPTS",
            "Too many failed logins for this email; try again later.",
            headers={"Retry-After": str(max(1, math.ceil(retry_after.total_seconds())))},
        )


async def record_login_failure(email: str) -> None:
    if _enabled():
        window = int(LOGIN_FAILURE_WINDOW.total_seconds())
        await insert_login_failure(get_db(), _email_key(email), await _client_key(), window)


async def forget_login_failures(email: str) -> None:
    if _enabled():
        await delete_login_failures(get_db(), _email_key(email))


async def take_link_creations(count: int) -> int:
    """How many of ``count`` links the caller's org may create now, spent from the allowance
    of ``POST .../links`` (LINK_CREATION_LIMITS): a batch counts its items, not one request."""
    if not get_settings().rate_limits:
        return count
    store = current_services().rate_limiter.store
    now = datetime.now(UTC)
    keys = []
    allowed = count
    for limit in LINK_CREATION_LIMITS:
        # quart-rate-limiter's key of that route's limit (GCRA: the theoretical arrival time).
        assert limit.key_function is not None  # every one names its key: caller_org
        owner = await limit.key_function()
        key = f"{current_app.import_name}-links.create_link-{limit.key}-{owner}"
        arrival = max((await store.get(key, now)).astimezone(UTC), now)
        room = (limit.period.total_seconds() - (arrival - now).total_seconds()) / limit.inverse
        allowed = min(allowed, max(0, math.floor(room + 1e-9)))
        keys.append((key, arrival, limit))
    for key, arrival, limit in keys:
        await store.set(key, arrival + timedelta(seconds=allowed * limit.inverse))
    return allowed
