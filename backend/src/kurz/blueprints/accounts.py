"""Account security: email verification, password reset, two-factor (TOTP), deleting the
account. Each change is recorded in the account log (and in the audit log of the user's orgs).
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, EmailStr, Field, RootModel, StringConstraints
from quart import Blueprint, Response
from quart_rate_limiter import rate_limit
from quart_schema import (
    document_response,
    validate_querystring,
    validate_request,
    validate_response,
)

from .. import totp
from ..accounts import (
    PASSWORD_RESET_JOB,
    announce_member,
    mail_verification,
    record_account_event,
    spend_second_factor,
    verify_address,
    wake_jobs,
)
from ..audit import record_audit
from ..auth import (
    Caller,
    current_session_hash,
    end_session,
    hash_secret,
    require_user,
    user_required,
)
from ..cursors import open_id_cursor, seal_cursor
from ..errors import APIError, validation_error
from ..jobs import enqueue
from ..mail import notice_message, queue_mail
from ..models.accounts import (
    AccountEvent,
    activate_totp,
    count_recovery_codes,
    delete_account,
    delete_sessions,
    delete_totp,
    delete_user_tokens,
    replace_recovery_codes,
    select_account_log_page,
    select_sole_owned_orgs,
    select_totp,
    select_user_token,
    update_pending_totp,
    use_user_token,
)
from ..models.orgs import lock_org, select_memberships
from ..models.users import User, select_password_hash, select_session_started, update_password
from ..passwords import check_new_password, hash_password, verify_password
from ..ratelimits import (
    LOGIN_LIMITS,
    MAIL_RESEND_LIMITS,
    PASSWORD_RESET_LIMITS,
    check_login_failures,
    forget_login_failures,
    record_login_failure,
)
from ..schemas import Input, NoContent, Timestamp, no_content, problems, public
from ..services import get_db, get_settings
from .audit import AuditQuery

blueprint = Blueprint("accounts", __name__)

Token = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# How recent a sign-in confirms a sensitive change of an account without password or
# two-factor (single sign-on only): the provider has just checked who it is.
REAUTHENTICATE_WITHIN = timedelta(minutes=10)


class TokenIn(Input):
    token: Token


class ResetRequestIn(Input):
    email: EmailStr = Field(max_length=254)


class ResetConfirmIn(Input):
    token: Token
    new_password: str = Field(max_length=1024)


class ConfirmIn(Input):
    """Who asks for a sensitive change proves it is the account's owner (see ``_confirm``)."""

    password: str | None = Field(None, max_length=1024, description="Of an account with one.")
    totp: str | None = Field(
        None,
        max_length=16,
        description="Without a password (single sign-on), with two-factor on: a code.",
    )
    recovery_code: str | None = Field(
        None, max_length=64, description="Without a password: an unused recovery code instead."
    )


class CodeIn(Input):
    code: str = Field(max_length=16)


class TotpSetupOut(BaseModel):
    secret: str
    otpauth_uri: str


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]


class TotpQrCode(RootModel[str]):
    """The QR code image (SVG)."""

    content_types: ClassVar = ("image/svg+xml",)


class TotpStatusOut(BaseModel):
    enabled: bool
    recovery_codes_left: int


class ActivityItem(BaseModel):
    id: str
    at: Timestamp
    action: str
    detail: dict[str, Any]


class ActivityPage(BaseModel):
    items: list[ActivityItem]
    next_cursor: str | None


def _activity_item(event: AccountEvent) -> ActivityItem:
    return ActivityItem(id=str(event.id), at=event.at, action=event.action, detail=event.detail)


def _invalid_token() -> APIError:
    return APIError(400, "INVALID_TOKEN", "This link is invalid, used or expired.")


async def _check_password(user: User, password: str) -> None:
    """400 ``WRONG_PASSWORD`` (counted as a failed login) unless ``password`` is the user's."""
    await check_login_failures(user.email)
    if not await verify_password(password, await select_password_hash(get_db(), user.id)):
        await record_login_failure(user.email)
        raise validation_error("password", "The password is wrong.", "WRONG_PASSWORD")


async def _check_second_factor(user: User, code: str | None, recovery_code: str | None) -> None:
    """400 ``INVALID_CODE`` (counted as a failed login when a code was given) unless ``code``
    is a valid TOTP code or ``recovery_code`` an unused recovery code; either is spent."""
    await check_login_failures(user.email)
    if await spend_second_factor(get_db(), user, code, recovery_code) is None:
        if code or recovery_code:
            await record_login_failure(user.email)
            message = "That code is wrong or was used already."
        else:
            message = "Enter a code from your authenticator app, or a recovery code."
        raise validation_error("totp", message, "INVALID_CODE")


async def _confirm(user: User, data: ConfirmIn) -> None:
    """The owner of the account confirms a sensitive change: with the ``password`` (400
    ``WRONG_PASSWORD``). An account made by single sign-on has none: it gives a code of its
    two-factor app as ``totp``, or an unused ``recovery_code`` (400 ``INVALID_CODE``); without
    two-factor, its session must have signed in within ``REAUTHENTICATE_WITHIN`` (403
    ``REAUTHENTICATION_REQUIRED``: sign in again with single sign-on, then retry)."""
    if user.has_password:
        await _check_password(user, data.password or "")
    elif user.totp_enabled:
        await _check_second_factor(user, data.totp, data.recovery_code)
    else:
        started = await select_session_started(get_db(), current_session_hash() or "")
        if started is None or started < datetime.now(UTC) - REAUTHENTICATE_WITHIN:
            minutes = int(REAUTHENTICATE_WITHIN.total_seconds() // 60)
            raise APIError(
                403,
                "REAUTHENTICATION_REQUIRED",
                f"Sign in again with single sign-on, then do this within {minutes} minutes.",
            )


# --- the account's activity ------------------------------------------------------------------


@blueprint.get("/api/v1/users/me/activity")
@user_required
@validate_querystring(AuditQuery)
@validate_response(ActivityPage, 200)
@problems(400, 401, 403)
async def activity(query_args: AuditQuery) -> ActivityPage:
    """The account's security events, newest first: logins (``detail.method`` is ``password``,
    ``totp`` or ``recovery_code``), SSO logins, password changes and resets, two-factor on and
    off, new recovery codes, email verification. Pass ``next_cursor`` back as ``cursor`` for
    older events; it is null on the last page."""
    user = await require_user()
    cursor = query_args.cursor
    before_id = None if cursor is None else open_id_cursor("activity", user.id, cursor)
    events = await select_account_log_page(get_db(), user.id, query_args.limit + 1, before_id)
    page = events[: query_args.limit]
    more = len(events) > query_args.limit
    return ActivityPage(
        items=[_activity_item(event) for event in page],
        next_cursor=seal_cursor("activity", user.id, [page[-1].id]) if more else None,
    )


# --- email verification ----------------------------------------------------------------------


@blueprint.post("/api/v1/email-verification/confirm")
@public
@no_content
@rate_limit(limits=LOGIN_LIMITS)
@validate_request(TokenIn)
@problems(400, 429)
async def confirm_email(data: TokenIn) -> tuple[str, int]:
    """Confirm an email address with the token of its verification mail (no login needed).

    Pending invitations of the address then become memberships. 400 ``INVALID_TOKEN`` for an
    unknown, used or expired token (links last 7 days; a newer mail voids older links).
    """
    db = get_db()
    async with db.transaction():
        user = await use_user_token(db, hash_secret(data.token), "verify_email")
        if user is None:
            raise _invalid_token()
        await verify_address(db, user)
        await record_account_event(db, user, "email.verify")
    return "", 204


@blueprint.post("/api/v1/users/me/email-verification")
@document_response(NoContent, 202)
@rate_limit(limits=MAIL_RESEND_LIMITS)
@problems(401, 403, 429)
async def resend_verification() -> tuple[str, int]:
    """Mail a new verification link (202); older links stop working. Nothing is sent when the
    address is verified already."""
    user = await require_user()
    if not user.email_verified:
        db = get_db()
        async with db.transaction():
            await delete_user_tokens(db, user.id, "verify_email")
            await mail_verification(db, user, get_settings().base_url)
        wake_jobs()
    return "", 202


# --- password reset --------------------------------------------------------------------------


@blueprint.post("/api/v1/password-reset")
@public
@document_response(NoContent, 202)
@rate_limit(limits=PASSWORD_RESET_LIMITS)
@validate_request(ResetRequestIn)
@problems(400, 429)
async def request_password_reset(data: ResetRequestIn) -> tuple[str, int]:
    """Ask for a password reset mail: 202 whatever the email, so that nobody learns from it
    whether an account exists. The mail's link works once, within one hour."""
    db = get_db()
    await enqueue(db, PASSWORD_RESET_JOB, {"email": data.email})
    wake_jobs()
    return "", 202


@blueprint.post("/api/v1/password-reset/confirm")
@public
@no_content
@rate_limit(limits=LOGIN_LIMITS)
@validate_request(ResetConfirmIn)
@problems(400, 429)
async def confirm_password_reset(data: ResetConfirmIn) -> tuple[str, int]:
    """Set a new password with the token of a reset mail; every session of the user ends.

    400 ``INVALID_TOKEN`` for an unknown, used or expired token; a weak password is refused
    before the token is spent. Receiving the mail proves the address, so it counts as verified.
    """
    db = get_db()
    token_hash = hash_secret(data.token)
    user = await select_user_token(db, token_hash, "reset_password")
    if user is None:
        raise _invalid_token()
    check_new_password(data.new_password, "new_password", [user.email, user.name])
    password_hash = await hash_password(data.new_password)
    async with db.transaction():
        user = await use_user_token(db, token_hash, "reset_password")
        if user is None:  # spent meanwhile
            raise _invalid_token()
        await update_password(db, user.id, password_hash)
        await delete_sessions(db, user.id)
        await delete_user_tokens(db, user.id, "reset_password")
        await verify_address(db, user)
        await queue_mail(
            db,
            user.email,
            notice_message(
                "Your Kurz password was changed",
                "The password of your Kurz account was reset by its reset link.",
            ),
        )
        await record_account_event(db, user, "password_reset.complete")
    await forget_login_failures(user.email)
    wake_jobs()
    return "", 204


# --- two-factor ------------------------------------------------------------------------------


@blueprint.get("/api/v1/users/me/totp")
@validate_response(TotpStatusOut, 200)
@problems(401, 403)
async def totp_status() -> TotpStatusOut:
    """Whether two-factor is on, and how many unused recovery codes are left."""
    user = await require_user()
    left = await count_recovery_codes(get_db(), user.id) if user.totp_enabled else 0
    return TotpStatusOut(enabled=user.totp_enabled, recovery_codes_left=left)


@blueprint.post("/api/v1/users/me/totp")
@rate_limit(limits=LOGIN_LIMITS)
@validate_response(TotpSetupOut, 200)
@problems(401, 403, 409, 429)
async def start_totp() -> TotpSetupOut:
    """Begin setting up two-factor: a new secret and its ``otpauth://`` URI for an
    authenticator app (also as a QR code at ``GET /api/v1/users/me/totp/qr``). Nothing changes
    until ``/confirm``. 409 ``TOTP_ALREADY_ENABLED`` while it is on (turn it off first)."""
    user = await require_user()
    if user.totp_enabled:
        raise APIError(409, "TOTP_ALREADY_ENABLED", "Two-factor is on; turn it off first.")
    secret = totp.new_secret()
    await update_pending_totp(get_db(), user.id, totp.seal_secret(secret, user.id))
    return TotpSetupOut(secret=secret, otpauth_uri=totp.otpauth_uri(secret, user.email))


@blueprint.get("/api/v1/users/me/totp/qr")
@document_response(TotpQrCode)
@problems(401, 403, 404)
async def totp_qr() -> Response:
    """The QR code (SVG) of the ``otpauth://`` URI being set up."""
    user = await require_user()
    _, pending = await select_totp(get_db(), user.id)
    secret = totp.open_secret(pending, user.id) if pending else None
    if secret is None:
        raise APIError(404, "TOTP_NOT_STARTED", "Start setting up two-factor first.")
    return Response(
        totp.qr_svg(totp.otpauth_uri(secret, user.email)),
        content_type="image/svg+xml",
        headers={"Cache-Control": "no-store"},
    )


@blueprint.post("/api/v1/users/me/totp/confirm")
@rate_limit(limits=LOGIN_LIMITS)
@user_required
@validate_request(CodeIn)
@validate_response(RecoveryCodesOut, 200)
@problems(400, 401, 403, 429)
async def confirm_totp(data: CodeIn) -> RecoveryCodesOut:
    """Turn two-factor on with a code from the app: answers the 10 recovery codes, shown
    this once (each works once in place of a code). 400 ``INVALID_CODE`` for a wrong code."""
    user = await require_user()
    await check_login_failures(user.email)
    db = get_db()
    _, pending = await select_totp(db, user.id)
    secret = totp.open_secret(pending, user.id) if pending else None
    step = totp.matching_step(secret, data.code) if secret else None
    if pending is None or step is None:
        await record_login_failure(user.email)
        raise APIError(400, "INVALID_CODE", "The code is wrong or has expired.")
    codes = totp.new_recovery_codes()
    async with db.transaction():
        if not await activate_totp(
            db, user.id, pending, step, [totp.hash_recovery_code(code) for code in codes]
        ):
            raise APIError(400, "INVALID_CODE", "Two-factor changed meanwhile; start again.")
        await record_account_event(db, user, "totp.enable")
    return RecoveryCodesOut(recovery_codes=codes)


@blueprint.post("/api/v1/users/me/totp/recovery-codes")
@rate_limit(limits=LOGIN_LIMITS)
@user_required
@validate_request(ConfirmIn)
@validate_response(RecoveryCodesOut, 200)
@problems(400, 401, 403, 409, 429)
async def renew_recovery_codes(data: ConfirmIn) -> RecoveryCodesOut:
    """New recovery codes, shown this once; the old ones stop working. Confirmed with the
    ``password``, or without one (single sign-on) with a ``totp`` code or a ``recovery_code``.
    409 ``TOTP_NOT_ENABLED`` while two-factor is off."""
    user = await require_user()
    if not user.totp_enabled:
        raise APIError(409, "TOTP_NOT_ENABLED", "Two-factor sign-in is off.")
    await _confirm(user, data)
    codes = totp.new_recovery_codes()
    db = get_db()
    async with db.transaction():
        await replace_recovery_codes(db, user.id, [totp.hash_recovery_code(c) for c in codes])
        await record_account_event(db, user, "totp.recovery_codes")
    return RecoveryCodesOut(recovery_codes=codes)


@blueprint.delete("/api/v1/users/me/totp")
@no_content
@rate_limit(limits=LOGIN_LIMITS)
@user_required
@validate_request(ConfirmIn)
@problems(400, 401, 403, 429)
async def disable_totp(data: ConfirmIn) -> tuple[str, int]:
    """Turn two-factor off; the user is told by mail.

    An account with a password gives the ``password`` (400 ``WRONG_PASSWORD``). One made by
    single sign-on, which has none (``has_password`` of ``GET /api/v1/session``), gives a code
    from its app as ``totp``, or an unused ``recovery_code`` instead (400 ``INVALID_CODE``).
    """
    user = await require_user()
    await _confirm(user, data)
    db = get_db()
    async with db.transaction():
        await delete_totp(db, user.id)
        await queue_mail(
            db,
            user.email,
            notice_message(
                "Two-factor sign-in was turned off",
                "Two-factor sign-in was turned off for your Kurz account.",
            ),
        )
        await record_account_event(db, user, "totp.disable")
    wake_jobs()
    return "", 204


# --- deleting the account --------------------------------------------------------------------


@blueprint.delete("/api/v1/users/me")
@no_content
@rate_limit(limits=LOGIN_LIMITS)
@user_required
@validate_request(ConfirmIn)
@problems(400, 401, 403, 409, 429)
async def remove_account(data: ConfirmIn) -> tuple[str, int]:
    """Delete the account; its sessions end at once. Confirmed with the ``password``; an
    account made by single sign-on gives a ``totp`` code or a ``recovery_code`` when it has
    two-factor on, and otherwise must have signed in within the last 10 minutes (403
    ``REAUTHENTICATION_REQUIRED``).

    409 ``LAST_OWNER`` while it is the only owner of an org (hand ownership over, or delete
    the org, first). Links it made stay with their orgs, their creator shown as a deleted
    user; audit entries keep its id, with nothing personal; API tokens it made stop working.
    """
    user = await require_user()
    await _confirm(user, data)
    db = get_db()
    async with db.transaction():
        for org in sorted(await select_memberships(db, user.id), key=lambda org: org.id):
            await lock_org(db, org.id)  # an owner leaving meanwhile is seen
        if await select_sole_owned_orgs(db, user.id):
            raise APIError(
                409, "LAST_OWNER", "You are the only owner of an org: hand it over first."
            )
        for org in await select_memberships(db, user.id):
            await record_audit(
                Caller(org_id=org.id, role=org.role, user=user),
                "account.delete",
                user.id,
                {"user_id": user.id, "role": org.role},
            )
            await announce_member(db, org.id, user.id, "member.removed")
        await delete_account(db, user.id)
        await record_account_event(db, user, "account.delete")
    await end_session()
    return "", 204
