"""Who is calling: the session user, their role in an org, API tokens, and the CSRF check.

Sessions: the cookie (signed by quart-auth) carries a random session id; the ``sessions`` table
holds only its SHA-256. Logging out deletes the row, and a password change deletes every other
row of that user, so those cookies stop working at once even though their signature is valid.
"""

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

from quart import current_app, g, request
from quart_auth import AuthUser, login_user, logout_user
from quart_auth import current_user as auth_user

from .errors import APIError, org_not_found
from .models.members import select_role
from .models.orgs import select_require_2fa
from .models.tokens import ROLES, Role, lower_role, use_token
from .models.users import (
    User,
    delete_expired_sessions,
    delete_session,
    insert_session,
    select_user_by_session,
)
from .services import get_db, get_settings

SESSION_COOKIE = "kurz_session"
# Without "remember", the cookie ends with the browser session and the server ends it after a
# working day at the latest; with it, it lasts SESSION_DURATION.
BROWSER_SESSION = timedelta(hours=24)
SESSION_DURATION = timedelta(days=30)
TOKEN_PREFIX = "kurz_"  # noqa: S105 - a marker that makes leaked tokens recognisable
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


def role_at_least(role: Role, minimum: Role) -> bool:
    return ROLES.index(role) >= ROLES.index(minimum)


def hash_secret(secret: str) -> str:
    """Session ids and API tokens are stored only as this digest: they are random, so no salt."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Caller:
    """An authenticated caller acting inside one org: a member user or an org API token."""

    org_id: str
    role: Role
    user: User | None = None
    token_id: str | None = None
    token_created_by: str | None = None
    token_role: Role | None = None  # the role the token was made with

    @property
    def user_id(self) -> str | None:
        return self.user.id if self.user else None

    @property
    def author_id(self) -> str:
        """The user answerable for what the caller makes: itself, or a token's creator."""
        author = self.user.id if self.user else self.token_created_by
        assert author is not None  # a caller without a user is a token, made by someone
        return author


async def current_user() -> User | None:
    """The user of the session cookie, if it names a live session (cached per request)."""
    if "kurz_user" not in g:
        session_id = auth_user.auth_id
        g.kurz_user = (
            await select_user_by_session(get_db(), hash_secret(session_id)) if session_id else None
        )
    user: User | None = g.kurz_user
    return user


def current_session_hash() -> str | None:
    session_id = auth_user.auth_id
    return hash_secret(session_id) if session_id else None


def refuse_token() -> None:
    """For routes that act on the session cookie (logging in and out, session-only routes).

    A request that carries a bearer token is refused even with a session cookie: it skipped the
    CSRF check as a token request, so it must not act on the cookie.
    """
    if bearer_secret() is not None:
        raise APIError(
            401, "NOT_AUTHENTICATED", "API tokens act only inside their org; log in instead."
        )


async def require_user() -> User:
    """Session-only routes (users, session, org list): API tokens do not act here."""
    refuse_token()
    user = await current_user()
    if user is None:
        raise APIError(401, "NOT_AUTHENTICATED", "Log in first.")
    return user


def user_required(route: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Put above ``validate_request``: a stranger gets 401 before the body is looked at."""

    @wraps(route)
    async def authenticated(*args: P.args, **kwargs: P.kwargs) -> R:
        await require_user()
        return await route(*args, **kwargs)

    return authenticated


async def start_session(user: User, remember: bool) -> None:
    """Log ``user`` in: a new server-side session and its cookie (replacing any current one)."""
    db = get_db()
    await end_session()
    await delete_expired_sessions(db, user.id)
    lifetime = SESSION_DURATION if remember else BROWSER_SESSION
    session_id = new_secret()
    await insert_session(db, user.id, hash_secret(session_id), datetime.now(UTC) + lifetime)
    login_user(AuthUser(session_id), remember)


async def end_session() -> None:
    """Delete the current session server-side and clear its cookie."""
    session_hash = current_session_hash()
    if session_hash is not None:
        await delete_session(get_db(), session_hash)
    logout_user()
    g.kurz_user = None


def bearer_secret() -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


async def require_org_role(org_id: str, minimum: Role = "member") -> Caller:
    """Authorise the caller inside ``org_id`` with at least the ``minimum`` role."""
    callers = g.setdefault("kurz_callers", {})
    if org_id not in callers:
        callers[org_id] = await _org_caller(org_id)
    return _with_role_at_least(callers[org_id], minimum)


async def recheck_role(caller: Caller, minimum: Role) -> Caller:
    """The caller with its role as it stands now, once the org's memberships are locked (see
    ``lock_org``): a user demoted or removed meanwhile must not act with the old role."""
    if caller.user is None:  # a token acts with at most its creator's role
        assert caller.token_created_by is not None and caller.token_role is not None
        creator_role = await select_role(get_db(), caller.org_id, caller.token_created_by)
        if creator_role is None:
            raise _invalid_token()
        role = lower_role(caller.token_role, creator_role)
    else:
        role = await _member_role(caller.org_id, caller.user.id)
    return _with_role_at_least(replace(caller, role=role), minimum)


def _invalid_token() -> APIError:
    return APIError(401, "INVALID_TOKEN", "The API token is unknown or revoked.")


async def _member_role(org_id: str, user_id: str) -> Role:
    """The user's role in the org; 404 when not a member (or no such org)."""
    role = await select_role(get_db(), org_id, user_id)
    if role is None:
        raise org_not_found()
    return role


def _with_role_at_least(caller: Caller, minimum: Role) -> Caller:
    if not role_at_least(caller.role, minimum):
        raise APIError(403, "FORBIDDEN", f"This needs the {minimum} role or higher.")
    return caller


async def authorise_org() -> None:
    """Before every route with an ``<org_id>``: 401 for strangers, 404 for non-members.

    Runs before the route reads its body, so every org-scoped route (whoever writes it) answers
    an outsider the same way whatever it sends, and validation errors never come first.
    """
    org_id = (request.view_args or {}).get("org_id")
    if org_id is not None:
        caller = await require_org_role(org_id)
        await _check_second_factor(caller)


async def _check_second_factor(caller: Caller) -> None:
    """403 ``TWO_FACTOR_REQUIRED`` for a member without two-factor in an org that requires it
    (leaving stays possible; setting it up is no org route)."""
    if caller.user is None or caller.user.totp_enabled:
        return
    leaving = request.endpoint == "members.remove_member" and _same_id(
        (request.view_args or {}).get("user_id", ""), caller.user.id
    )
    if not leaving and await select_require_2fa(get_db(), caller.org_id):
        raise APIError(
            403, "TWO_FACTOR_REQUIRED", "This organization requires two-factor sign-in."
        )


async def _org_caller(org_id: str) -> Caller:
    try:
        org_id = str(UUID(org_id))
    except ValueError:
        raise org_not_found() from None
    secret = bearer_secret()
    if secret is not None:
        token = await use_token(get_db(), hash_secret(secret))
        if token is None:
            raise _invalid_token()
        if token.org_id != org_id:
            raise org_not_found()
        return Caller(
            org_id=org_id,
            role=token.role,
            token_id=token.id,
            token_created_by=token.created_by,
            token_role=token.token_role,
        )
    user = await require_user()
    return Caller(org_id=org_id, role=await _member_role(org_id, user.id), user=user)


def _same_id(spelling: str, user_id: str) -> bool:
    """Whether ``spelling`` is ``user_id`` in any spelling a UUID reads."""
    try:
        return str(UUID(spelling)) == user_id
    except ValueError:
        return False


def _origin(url: str) -> str | None:
    """The origin of a URL, None when it is not one (which matches no origin)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[" in a forged Origin
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def csrf_exempt(route: F) -> F:
    """Marks a public form's route that acts on nothing of the session (a link's password
    form, which browsers post as a form): the JSON-only check does not apply to it."""
    setattr(route, "kurz_csrf_exempt", True)  # noqa: B010 - unknown to Callable's type
    return route


async def check_csrf() -> None:
    """Refuse cookie-authenticated state changes that are not same-origin JSON.

    SameSite=Strict already keeps the cookie off cross-site requests; this is the second lock.
    Bearer-token requests carry no ambient credentials and are exempt, as are routes marked
    ``csrf_exempt``.
    """
    if request.method not in STATE_CHANGING or bearer_secret() is not None:
        return
    if getattr(current_app.view_functions.get(request.endpoint or ""), "kurz_csrf_exempt", False):
        return
    if SESSION_COOKIE not in request.cookies:
        return
    # A Content-Type counts too: HTTP/2 bodies (and the test client's) need no Content-Length.
    has_body = (
        bool(request.content_length)
        or bool(request.mimetype)
        or "chunked" in request.headers.get("Transfer-Encoding", "")
    )
    source = request.headers.get("Origin") or request.headers.get("Referer")
    own = source is not None and _origin(source) == _origin(get_settings().base_url)
    # The one exception: a CSV import sent from the service's own page (a form cannot send it).
    csv_import = request.mimetype == "text/csv" and request.endpoint == "imports.start_import"
    if has_body and request.mimetype != "application/json" and not (csv_import and own):
        raise APIError(403, "CSRF_REJECTED", "Send the body as application/json.")
    if source and not own:
        raise APIError(403, "CSRF_REJECTED", "Cross-origin request refused.")
