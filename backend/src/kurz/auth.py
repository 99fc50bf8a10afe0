"""Who is calling: the session user, their role in an org, API tokens, and the CSRF check."""

import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

from quart import current_app, g, request
from quart_auth import current_user as auth_user

from .database import get_db
from .errors import APIError
from .models.members import select_role
from .models.tokens import use_token
from .models.users import User, select_user_by_session

ROLES = ("member", "admin", "owner")  # in rising order of power
TOKEN_PREFIX = "kurz_"  # noqa: S105 - a marker that makes leaked tokens recognisable
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def role_at_least(role: str, minimum: str) -> bool:
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
    role: str
    user: User | None = None
    token_id: str | None = None

    @property
    def user_id(self) -> str | None:
        return self.user.id if self.user else None


async def current_user() -> User | None:
    """The user of the session cookie, if it names a live session (cached per request)."""
    if "kurz_user" not in g:
        session_id = auth_user.auth_id
        g.kurz_user = (
            await select_user_by_session(get_db(), hash_secret(session_id)) if session_id else None
        )
    return g.kurz_user


async def require_user() -> User:
    """Session-only routes (users, session, org list): API tokens do not act here."""
    user = await current_user()
    if user is None:
        raise APIError(401, "NOT_AUTHENTICATED", "Log in first.")
    return user


def bearer_secret() -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


def _org_not_found() -> APIError:
    # Same answer for "no such org" and "not yours": never reveal that an org exists.
    return APIError(404, "ORG_NOT_FOUND", "No such organisation.")


async def require_org_role(org_id: str, minimum: str = "member") -> Caller:
    """Authorise the caller inside ``org_id`` with at least the ``minimum`` role."""
    try:
        org_id = str(UUID(org_id))
    except ValueError:
        raise _org_not_found() from None
    db = get_db()
    secret = bearer_secret()
    if secret is not None:
        token = await use_token(db, hash_secret(secret))
        if token is None:
            raise APIError(401, "INVALID_TOKEN", "The API token is unknown or revoked.")
        if token.org_id != org_id:
            raise _org_not_found()
        caller = Caller(org_id=org_id, role=token.role, token_id=token.id)
    else:
        user = await require_user()
        role = await select_role(db, org_id, user.id)
        if role is None:
            raise _org_not_found()
        caller = Caller(org_id=org_id, role=role, user=user)
    if not role_at_least(caller.role, minimum):
        raise APIError(403, "FORBIDDEN", f"This needs the {minimum} role or higher.")
    return caller


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def check_csrf() -> None:
    """Refuse cookie-authenticated state changes that are not same-origin JSON.

    SameSite=Strict already keeps the cookie off cross-site requests; this is the second lock.
    Bearer-token requests carry no ambient credentials and are exempt.
    """
    if request.method not in STATE_CHANGING or bearer_secret() is not None:
        return
    if current_app.config["QUART_AUTH_COOKIE_NAME"] not in request.cookies:
        return
    has_body = bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    )
    if has_body and request.mimetype != "application/json":
        raise APIError(403, "CSRF_REJECTED", "Send the body as application/json.")
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source and _origin(source) != _origin(current_app.config["KURZ"].base_url):
        raise APIError(403, "CSRF_REJECTED", "Cross-origin request refused.")
