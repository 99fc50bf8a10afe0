"""Single sign-on (OpenID Connect) and what the login screen offers.

The login's state is bound to the browser that started it by a short-lived cookie (SameSite=
Lax, so that it comes back with the provider's redirect): a callback URL made for another
browser logs no one in. Accounts are found by the provider's subject, else by the verified
email the provider returns; a new email makes a new account (without a password). An account
with two-factor on still needs its code: the callback then only hands the browser a short-lived
cookie for ``/api/v1/sso/second-factor``.
"""

import hmac
from datetime import UTC, datetime, timedelta

from databases import Database
from pydantic import BaseModel, Field
from quart import Blueprint, Response, after_this_request, redirect, request
from quart.typing import ResponseTypes
from quart_rate_limiter import rate_limit
from quart_schema import validate_request, validate_response

from ..accounts import (
    announce_member,
    issue_token,
    record_account_event,
    second_factor,
    verify_address,
)
from ..audit import record_audit
from ..auth import Caller, hash_secret, refuse_token, start_session
from ..errors import APIError
from ..models.accounts import (
    delete_user_tokens,
    insert_sso_identity,
    insert_sso_login,
    select_sso_user,
    select_user_token,
    take_sso_login,
    use_user_token,
)
from ..models.members import lock_email
from ..models.orgs import join_sso_orgs
from ..models.users import User, insert_user, select_user_by_email
from ..oidc import Provider, SSOError
from ..ratelimits import (
    LOGIN_LIMITS,
    check_login_failures,
    forget_login_failures,
    record_login_failure,
)
from ..schemas import Input, problems, public
from ..services import current_services, get_db, get_settings
from .users import UserOut

blueprint = Blueprint("sso", __name__)

STATE_COOKIE = "kurz_sso_state"
STEP_COOKIE = "kurz_sso_step"
COOKIE_PATH = "/api/v1/sso"
LOGIN_LIFETIME = timedelta(minutes=10)
SECOND_STEP_LIFETIME = timedelta(minutes=5)
SECOND_STEP = "sso_second_factor"


class LoginOptions(BaseModel):
    sso: bool
    email_verification: bool


class SecondFactorIn(Input):
    totp: str | None = Field(None, max_length=16, description="A code from the app.")
    recovery_code: str | None = Field(
        None, max_length=64, description="An unused recovery code instead."
    )


def _provider() -> Provider:
    settings = get_settings()
    if not settings.sso_enabled:
        raise APIError(404, "SSO_NOT_CONFIGURED", "Single sign-on is not configured.")
    services = current_services()
    if services.oidc is None:
        services.oidc = Provider(settings)
    return services.oidc


@blueprint.get("/api/v1/login-options")
@public
@validate_response(LoginOptions, 200)
async def login_options() -> LoginOptions:
    """What the login screen offers: single sign-on, and whether emails must be verified."""
    settings = get_settings()
    return LoginOptions(
        sso=settings.sso_enabled, email_verification=settings.require_email_verification
    )


@blueprint.get("/api/v1/sso/login")
@public
@rate_limit(limits=LOGIN_LIMITS)
@problems(401, 404, 429, 503)
async def sso_login() -> ResponseTypes:
    """Sign in with the organisation's identity provider: redirects there (authorization code
    flow with PKCE, state and nonce); the provider sends the browser back to the callback."""
    refuse_token()
    provider = _provider()
    try:
        start = await provider.start()
    except SSOError as error:
        raise APIError(503, error.code, error.detail, headers={"Retry-After": "30"}) from None
    await insert_sso_login(
        get_db(),
        hash_secret(start.state),
        start.nonce,
        start.code_verifier,
        datetime.now(UTC) + LOGIN_LIFETIME,
    )
    response = redirect(start.url, 302)
    _set_cookie(response, STATE_COOKIE, start.state, LOGIN_LIFETIME)
    return response


def _set_cookie(response: ResponseTypes, name: str, value: str, lifetime: timedelta) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(lifetime.total_seconds()),
        path=COOKIE_PATH,
        secure=get_settings().cookie_secure,
        httponly=True,
        samesite="Lax",
    )


@blueprint.get("/api/v1/sso/callback")
@public
@rate_limit(limits=LOGIN_LIMITS)
@problems(400, 401, 404, 429, 503)
async def sso_callback() -> ResponseTypes:
    """Where the provider sends the browser back: logs in the user whose verified email the
    provider returns (creating the account on first login) and joins them as member to every
    org whose ``sso_domains`` holds their email's domain; then on to the app.

    A browser is sent to the login screen with ``sso_error`` when this fails; other clients
    get 400 (``SSO_STATE_MISMATCH``, ``SSO_EMAIL_UNVERIFIED``, ``SSO_INVALID_TOKEN``,
    ``SSO_REFUSED``) or 503 ``SSO_UNAVAILABLE``.

    An account with two-factor on is not signed in yet: it moves on to
    ``/#/login?sso_step=totp``, where ``POST /api/v1/sso/second-factor`` takes the code.
    """
    refuse_token()
    provider = _provider()
    try:
        user, created = await _finish(provider)
    except SSOError as error:
        response = _failed(error)
    else:
        if user.totp_enabled:
            token = await issue_token(get_db(), user, SECOND_STEP, SECOND_STEP_LIFETIME)
            response = _move_on("/#/login?sso_step=totp", "One more step")
            _set_cookie(response, STEP_COOKIE, token, SECOND_STEP_LIFETIME)
        else:
            await start_session(user, remember=False)
            detail = {"created": created}
            await record_account_event(get_db(), user, "sso.login", detail, orgs=False)
            response = _move_on("/#/", "You are signed in")
    response.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
    return response


@blueprint.post("/api/v1/sso/second-factor")
@public
@rate_limit(limits=LOGIN_LIMITS)
@validate_request(SecondFactorIn)
@validate_response(UserOut, 200)
@problems(400, 401, 404, 429)
async def sso_second_factor(data: SecondFactorIn) -> UserOut:
    """Finish a single sign-on of an account with two-factor on: a valid ``totp`` code (each
    works once) or an unused ``recovery_code``, within 5 minutes of the callback and in the
    same browser. 401 ``TOTP_REQUIRED`` for a wrong or missing code (wrong ones count as failed
    logins); 400 ``SSO_STATE_MISMATCH`` when there is no such sign-in (expired, finished, or
    started elsewhere): sign in again."""
    refuse_token()
    _provider()
    db = get_db()
    token_hash = hash_secret(request.cookies.get(STEP_COOKIE, ""))
    user = await select_user_token(db, token_hash, SECOND_STEP)
    if user is None:
        raise APIError(400, "SSO_STATE_MISMATCH", "This sign-in is unknown, used or expired.")
    await check_login_failures(user.email)
    if not await second_factor(db, user, data.totp, data.recovery_code):
        if data.totp or data.recovery_code:
            await record_login_failure(user.email)
        raise APIError(401, "TOTP_REQUIRED", "That code is wrong or was used already.")
    method = "totp" if data.totp else "recovery_code"
    async with db.transaction():
        if await use_user_token(db, token_hash, SECOND_STEP) is None:  # finished meanwhile
            raise APIError(400, "SSO_STATE_MISMATCH", "This sign-in is unknown, used or expired.")
        await delete_user_tokens(db, user.id, SECOND_STEP)  # this one and any abandoned
        await record_account_event(
            db, user, "sso.login", {"created": False, "method": method}, orgs=False
        )
    await forget_login_failures(user.email)
    await start_session(user, remember=False)

    @after_this_request
    async def forget_step(response: ResponseTypes) -> ResponseTypes:
        response.delete_cookie(STEP_COOKIE, path=COOKIE_PATH)
        return response

    return UserOut(id=user.id, email=user.email, name=user.name)


# Browsers drop a SameSite=Strict cookie set on a redirect that ends a cross-site trip, so
# they get a page of Kurz's own that moves on to the app.
MOVE_ON_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0;url={url}"><title>{title} · Kurz</title></head>
<body><p>{title}. <a href="{url}">Continue to Kurz</a></p></body></html>"""


def _browser() -> bool:
    """Whether a browser asks (it prefers HTML); API clients get status codes instead."""
    accepted = request.accept_mimetypes.best_match(["application/problem+json", "text/html"])
    return accepted == "text/html"


def _move_on(url: str, title: str) -> ResponseTypes:
    if _browser():
        page = MOVE_ON_PAGE.format(url=url, title=title)
        return Response(page, content_type="text/html; charset=utf-8")
    return redirect(url, 303)


def _failed(error: SSOError) -> ResponseTypes:
    if _browser():
        return redirect(f"/#/login?sso_error={error.code}", 303)
    if error.code == "SSO_UNAVAILABLE":
        raise APIError(503, error.code, error.detail, headers={"Retry-After": "30"})
    raise APIError(400, error.code, error.detail)


async def _finish(provider: Provider) -> tuple[User, bool]:
    """The user the provider signed in, and whether the account was made just now."""
    if request.args.get("error"):
        raise SSOError("SSO_REFUSED", "The provider did not sign you in.")
    state = request.args.get("state", "")
    cookie = request.cookies.get(STATE_COOKIE, "")
    if not state or not hmac.compare_digest(state.encode(), cookie.encode()):
        raise SSOError("SSO_STATE_MISMATCH", "This sign-in was not started in this browser.")
    db = get_db()
    started = await take_sso_login(db, hash_secret(state))
    if started is None:
        raise SSOError("SSO_STATE_MISMATCH", "This sign-in is unknown, used or expired.")
    nonce, code_verifier = started
    claims = await provider.finish(request.args.get("code", ""), code_verifier, nonce)
    email = claims.get("email")
    if claims.get("email_verified") is not True or not isinstance(email, str):
        raise SSOError("SSO_EMAIL_UNVERIFIED", "The provider has not verified your email.")
    if "@" not in email or len(email) > 254:
        raise SSOError("SSO_REFUSED", "The provider sent no usable email.")
    return await _sign_in(db, str(claims["sub"]), email.strip(), claims.get("name"))


async def _sign_in(db: Database, subject: str, email: str, name: object) -> tuple[User, bool]:
    issuer = get_settings().oidc_issuer
    assert issuer is not None  # the SSO routes answer only when SSO is configured
    created = False
    async with db.transaction():
        await lock_email(db, email)
        user = await select_sso_user(db, issuer, subject)
        if user is None:
            user = await select_user_by_email(db, email)
            if user is None:
                display_name = name.strip()[:100] if isinstance(name, str) else ""
                user = await insert_user(db, email, display_name, None)
                assert user is not None  # the email is locked, and no user has it
                created = True
            await insert_sso_identity(db, issuer, subject, user.id)
        if user.email.lower() == email.lower():  # the provider vouches for this address
            await verify_address(db, user)
        for org_id in await join_sso_orgs(db, user.id, email.rpartition("@")[2].lower()):
            await record_audit(
                Caller(org_id=org_id, role="member", user=user),
                "member.sso_join",
                user.email,
                {"user_id": user.id, "role": "member"},
            )
            await announce_member(db, org_id, user.id)
    return user, created
