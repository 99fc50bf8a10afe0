"""What the account routes share: mailed tokens and links, verifying an address (which turns
its pending invitations into memberships), and recording account events."""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from databases import Database
from quart import has_request_context, request

from . import totp
from .audit import ip_hash, record_audit
from .auth import Caller, hash_secret, new_secret
from .config import Settings
from .jobs import Job, JobKind, JobWorker
from .mail import notice_message, queue_mail, reset_message, verification_message
from .models.accounts import (
    count_recovery_codes,
    delete_user_tokens,
    insert_account_log,
    insert_user_token,
    select_totp,
    update_email_verified,
    use_recovery_code,
    use_totp_step,
)
from .models.audit import insert_audit
from .models.members import accept_invitations, lock_email, select_member
from .models.orgs import select_memberships
from .models.users import User, select_user_by_email
from .services import current_services
from .webhooks import emit

VERIFICATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=1)
PASSWORD_RESET_JOB = "password_reset"  # noqa: S105 - a job kind


def ui_link(base_url: str, screen: str, **query: str) -> str:
    """A link into the browser UI (its screens are in the fragment)."""
    return f"{base_url}/#/{screen}" + (f"?{urlencode(query)}" if query else "")


async def issue_token(db: Database, user: User, purpose: str, lifetime: timedelta) -> str:
    """A new single-use token for ``user`` (only its hash is stored)."""
    token = new_secret()
    expires_at = datetime.now(UTC) + lifetime
    await insert_user_token(db, user.id, purpose, user.email, hash_secret(token), expires_at)
    return token


async def mail_verification(db: Database, user: User, base_url: str) -> None:
    """Queue a verification mail (call inside a transaction)."""
    token = await issue_token(db, user, "verify_email", VERIFICATION_LIFETIME)
    link = ui_link(base_url, "verify-email", token=token)
    await queue_mail(db, user.email, verification_message(link))


def wake_jobs() -> None:
    """After a commit that queued mail: send it now rather than at the next poll."""
    current_services().jobs.wake()


async def join_invited_orgs(db: Database, user: User) -> None:
    """Turn the pending invitations of the user's email into memberships (audited, and told
    to the orgs' webhooks)."""
    for org_id, role in await accept_invitations(db, user.id, user.email):
        await record_audit(
            Caller(org_id=org_id, role=role, user=user),
            "invitation.accept",
            user.email,
            {"user_id": user.id, "role": role},
        )
        await announce_member(db, org_id, user.id)


async def announce_member(
    db: Database, org_id: str, user_id: str, type: str = "member.added"
) -> None:
    """Tell the org's webhooks that the user just joined it, or (``member.removed``, called
    while still a member) is leaving it."""
    from .blueprints.members import MemberOut  # the blueprints import this module

    member = await select_member(db, org_id, user_id)
    await emit(db, org_id, type, MemberOut.model_validate(member))


async def verify_address(db: Database, user: User) -> None:
    """Mark the user's email verified and turn its pending invitations into memberships
    (call inside a transaction)."""
    await lock_email(db, user.email)
    await update_email_verified(db, user.id)
    await join_invited_orgs(db, user)


async def record_account_event(
    db: Database, user: User, action: str, detail: dict[str, Any] | None = None, orgs: bool = True
) -> None:
    """Record an account event in the account's log and in the audit log of each of its orgs
    (so their admins see a member's second factor going off, say). The target is the user's
    id, which stays meaningful (and impersonal) once the account is deleted."""
    remote = request.remote_addr if has_request_context() else None
    address = ip_hash(remote) if remote else None
    await insert_account_log(db, user.id, action, detail or {}, address)
    for org in await select_memberships(db, user.id) if orgs else []:
        await insert_audit(
            db,
            org_id=org.id,
            actor_id=user.id,
            token_id=None,
            action=action,
            entries=[(user.id, detail or {})],
            ip_hash=address,
        )


async def spend_second_factor(
    db: Database, user: User, code: str | None, recovery_code: str | None
) -> str | None:
    """Which second factor the user proved, ``totp`` (a valid code not used before) or
    ``recovery_code`` (an unused one), spending it; None when neither holds."""
    sealed, _ = await select_totp(db, user.id)
    secret = totp.open_secret(sealed, user.id) if code and sealed else None
    if secret and code:
        step = totp.matching_step(secret, code)
        used = step is not None and await use_totp_step(db, user.id, step)
        return "totp" if used else None
    if recovery_code and await use_recovery_code(
        db, user.id, totp.hash_recovery_code(recovery_code)
    ):
        return "recovery_code"
    return None


async def second_factor(
    db: Database, user: User, code: str | None, recovery_code: str | None
) -> bool:
    """Whether a login brings a valid TOTP code (not used before) or an unused recovery code;
    either is spent by this check. A recovery code used is told to the user by mail."""
    async with db.transaction():
        method = await spend_second_factor(db, user, code, recovery_code)
        if method != "recovery_code":
            return method is not None
        left = await count_recovery_codes(db, user.id)
        await queue_mail(
            db,
            user.email,
            notice_message(
                "A recovery code was used to log in to Kurz",
                "A recovery code was used to log in to your Kurz account. Unused recovery codes"
                f" left: {left}. You can make new ones on your account page.",
            ),
        )
    wake_jobs()
    return True


def password_reset_job(settings: Settings, jobs: JobWorker) -> JobKind:
    """Mails a reset link when the email belongs to an account. The request only queues this,
    so it does the same work, in the same time, whether or not the account exists."""

    async def handle(db: Database, job: Job) -> None:
        async with db.transaction():
            user = await select_user_by_email(db, job.payload["email"])
            if user is None:
                return
            await delete_user_tokens(db, user.id, "reset_password")  # the newest link counts
            token = await issue_token(db, user, "reset_password", RESET_LIFETIME)
            link = ui_link(settings.base_url, "reset-password", token=token)
            await queue_mail(db, user.email, reset_message(link))
            await record_account_event(db, user, "password_reset.request")
        jobs.wake()

    return JobKind(PASSWORD_RESET_JOB, handle)
