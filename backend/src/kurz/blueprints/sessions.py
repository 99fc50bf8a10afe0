"""Logging in and out: ``/api/v1/session`` (a quart-auth cookie backed by a server-side row)."""

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from quart import Blueprint
from quart_rate_limiter import rate_limit
from quart_schema import validate_request, validate_response

from ..accounts import record_account_event, second_factor
from ..auth import end_session, refuse_token, require_user, start_session
from ..errors import APIError
from ..models.orgs import select_memberships
from ..models.users import select_login
from ..passwords import verify_password
from ..ratelimits import (
    LOGIN_LIMITS,
    check_login_failures,
    forget_login_failures,
    record_login_failure,
)
from ..schemas import Input, Role, no_content, problems, public
from ..services import get_db
from .users import UserOut

blueprint = Blueprint("sessions", __name__)


class LoginIn(Input):
    # Trimmed like EmailStr trims it at registration, so that one spelling works for both.
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)]
    password: str = Field(max_length=1024)
    remember: bool = False
    totp: str | None = Field(None, max_length=16, description="With two-factor on: a code.")
    recovery_code: str | None = Field(
        None, max_length=64, description="With two-factor on: an unused recovery code instead."
    )


class SessionOrg(BaseModel):
    id: str
    name: str
    role: Role


class SessionOut(UserOut):
    email_verified: bool
    totp_enabled: bool
    has_password: bool = Field(
        description="False for an account made by single sign-on that never set a password."
    )
    orgs: list[SessionOrg]


@blueprint.post("/api/v1/session")
@public
@rate_limit(limits=LOGIN_LIMITS)
@validate_request(LoginIn)
@validate_response(UserOut, 200)
@problems(400, 401, 429, 503)
async def login(data: LoginIn) -> UserOut:
    """Log in; sets the session cookie.

    Without ``remember`` the cookie lasts until the browser closes (and at most a day), with it
    30 days. Wrong email and wrong password get the same 401, in about the same time. After 10
    failed logins for one email from one address within 15 minutes, logins for it from there
    answer 429 for a while; after 100 from all addresses together, from everywhere. 503 BUSY
    when the server is checking too many passwords at once.

    With two-factor on, a right password answers 401 ``TOTP_REQUIRED`` unless the body also has
    a valid ``totp`` code (each works once) or an unused ``recovery_code``; wrong codes count
    as failed logins. Each login shows in ``GET /api/v1/users/me/activity``.
    """
    refuse_token()
    await check_login_failures(data.email)
    found = await select_login(get_db(), data.email)
    user, password_hash = found if found else (None, None)
    if not await verify_password(data.password, password_hash) or user is None:
        await record_login_failure(data.email)
        raise APIError(401, "INVALID_CREDENTIALS", "Wrong email or password.")
    if user.totp_enabled and not await second_factor(
        get_db(), user, data.totp, data.recovery_code
    ):
        if data.totp or data.recovery_code:
            await record_login_failure(data.email)
            raise APIError(401, "TOTP_REQUIRED", "That code is wrong or was used already.")
        raise APIError(
            401, "TOTP_REQUIRED", "Enter a code from your authenticator app, or a recovery code."
        )
    await forget_login_failures(data.email)
    method = ("totp" if data.totp else "recovery_code") if user.totp_enabled else "password"
    await record_account_event(get_db(), user, "login", {"method": method}, orgs=False)
    await start_session(user, data.remember)
    return UserOut(id=user.id, email=user.email, name=user.name)


@blueprint.get("/api/v1/session")
@validate_response(SessionOut, 200)
@problems(401)
async def session() -> SessionOut:
    """The logged-in user and the orgs they belong to, with their role in each."""
    user = await require_user()
    orgs = await select_memberships(get_db(), user.id)
    return SessionOut(
        id=user.id,
        email=user.email,
        name=user.name,
        email_verified=user.email_verified,
        totp_enabled=user.totp_enabled,
        has_password=user.has_password,
        orgs=[SessionOrg(id=org.id, name=org.name, role=org.role) for org in orgs],
    )


@blueprint.delete("/api/v1/session")
@public
@no_content
@problems(401, 403)
async def logout() -> tuple[str, int]:
    """Log out: the session ends on the server and its cookie is cleared (204 even if none)."""
    refuse_token()
    await end_session()
    return "", 204
