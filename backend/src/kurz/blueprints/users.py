"""Registering (which turns pending invitations into memberships) and changing the password."""

from pydantic import BaseModel, EmailStr, Field
from quart import Blueprint
from quart_rate_limiter import rate_limit
from quart_schema import validate_request, validate_response

from ..accounts import join_invited_orgs, mail_verification, record_account_event, wake_jobs
from ..auth import current_session_hash, require_user, user_required
from ..errors import APIError, validation_error
from ..mail import notice_message, queue_mail
from ..models.members import lock_email
from ..models.users import (
    delete_other_sessions,
    insert_user,
    select_password_hash,
    update_password,
)
from ..passwords import check_new_password, hash_password, verify_password
from ..ratelimits import (
    LOGIN_LIMITS,
    REGISTRATION_LIMITS,
    check_login_failures,
    record_login_failure,
)
from ..schemas import Input, no_content, problems, public
from ..services import get_db, get_settings

blueprint = Blueprint("users", __name__)


class RegisterIn(Input):
    email: EmailStr = Field(max_length=254)
    password: str = Field(max_length=1024)
    name: str | None = Field("", max_length=100, description="Optional; null is no name.")


class UserOut(BaseModel):
    id: str
    email: str
    name: str


class PasswordChangeIn(Input):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


@blueprint.post("/api/v1/users")
@public
@rate_limit(limits=REGISTRATION_LIMITS)
@validate_request(RegisterIn)
@validate_response(UserOut, 201)
@problems(400, 409, 429, 503)
async def register(data: RegisterIn) -> tuple[UserOut, int]:
    """Register an account (it does not log in).

    Passwords: 8 characters to 72 bytes, and not easy to guess (400 ``WEAK_PASSWORD``). Emails
    are unique in any letter case (409 ``EMAIL_TAKEN``). With email verification on, a mail
    with a verification link goes out, and pending invitations of the email become memberships
    once it is verified; with it off, in the same transaction.
    """
    name = (data.name or "").strip()
    check_new_password(data.password, "password", [data.email, name])
    password_hash = await hash_password(data.password)
    db = get_db()
    async with db.transaction():
        await lock_email(db, data.email)
        user = await insert_user(db, data.email, name, password_hash)
        if user is None:
            raise APIError(409, "EMAIL_TAKEN", "This email is already registered.")
        settings = get_settings()
        if settings.require_email_verification:
            await mail_verification(db, user, settings.base_url)
        else:
            await join_invited_orgs(db, user)
    wake_jobs()
    return UserOut(id=user.id, email=user.email, name=user.name), 201


@blueprint.put("/api/v1/users/me/password")
@no_content
@rate_limit(limits=LOGIN_LIMITS)
@user_required
@validate_request(PasswordChangeIn)
@problems(400, 401, 403, 429, 503)
async def change_password(data: PasswordChangeIn) -> tuple[str, int]:
    """Change the password; every other session of the user ends, this one stays.

    A wrong ``current_password`` is a 400 (field ``current_password``) and counts as a failed
    login for the account.
    """
    user = await require_user()
    await check_login_failures(user.email)
    db = get_db()
    if not await verify_password(data.current_password, await select_password_hash(db, user.id)):
        await record_login_failure(user.email)
        raise validation_error(
            "current_password", "The current password is wrong.", "WRONG_PASSWORD"
        )
    check_new_password(data.new_password, "new_password", [user.email, user.name])
    password_hash = await hash_password(data.new_password)
    async with db.transaction():
        await update_password(db, user.id, password_hash)
        await delete_other_sessions(db, user.id, current_session_hash())
        await queue_mail(
            db,
            user.email,
            notice_message(
                "Your Kurz password was changed",
                "The password of your Kurz account was changed.",
            ),
        )
        await record_account_event(db, user, "password.change")
    wake_jobs()
    return "", 204
