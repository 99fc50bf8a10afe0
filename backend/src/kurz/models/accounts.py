"""Account security: mailed single-use tokens, verified emails, TOTP, recovery codes, the
account log, and deleting an account."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from databases import Database

from .users import USER_COLUMNS, User, _user


async def insert_user_token(
    db: Database, user_id: str, purpose: str, email: str, token_hash: str, expires_at: datetime
) -> None:
    await db.execute(
        """INSERT INTO user_tokens (token_hash, user_id, purpose, email, expires_at)
           VALUES (:token_hash, :user_id, :purpose, :email, :expires_at)""",
        {
            "token_hash": token_hash,
            "user_id": user_id,
            "purpose": purpose,
            "email": email,
            "expires_at": expires_at,
        },
    )


async def use_user_token(db: Database, token_hash: str, purpose: str) -> User | None:
    """Spend a live token once: the user it was made for, while it names their current email
    (an address changed since, or a deleted account, leaves the token worthless)."""
    row = await db.fetch_one(
        f"""WITH spent AS (
                UPDATE user_tokens SET used_at = now()
                 WHERE token_hash = :token_hash AND purpose = :purpose
                   AND used_at IS NULL AND expires_at > now()
             RETURNING user_id, email
            )
            SELECT {USER_COLUMNS} FROM spent JOIN users ON users.id = spent.user_id
             WHERE lower(users.email) = lower(spent.email) AND users.deleted_at IS NULL""",  # noqa: S608
        {"token_hash": token_hash, "purpose": purpose},
    )
    return None if row is None else _user(row)


async def select_user_token(db: Database, token_hash: str, purpose: str) -> User | None:
    """The user a live token was made for, without spending it."""
    row = await db.fetch_one(
        f"""SELECT {USER_COLUMNS} FROM user_tokens JOIN users ON users.id = user_tokens.user_id
             WHERE user_tokens.token_hash = :token_hash AND user_tokens.purpose = :purpose
               AND user_tokens.used_at IS NULL AND user_tokens.expires_at > now()
               AND lower(users.email) = lower(user_tokens.email)
               AND users.deleted_at IS NULL""",  # noqa: S608
        {"token_hash": token_hash, "purpose": purpose},
    )
    return None if row is None else _user(row)


async def delete_user_tokens(db: Database, user_id: str, purpose: str) -> None:
    """Void the user's other tokens of this purpose (a reset done, a new mail asked for)."""
    await db.execute(
        "DELETE FROM user_tokens WHERE user_id = :user_id AND purpose = :purpose",
        {"user_id": user_id, "purpose": purpose},
    )


async def update_email_verified(db: Database, user_id: str) -> None:
    await db.execute(
        """UPDATE users SET email_verified_at = coalesce(email_verified_at, now())
            WHERE id = :user_id""",
        {"user_id": user_id},
    )


async def delete_sessions(db: Database, user_id: str) -> None:
    await db.execute("DELETE FROM sessions WHERE user_id = :user_id", {"user_id": user_id})


# --- TOTP ------------------------------------------------------------------------------------


async def update_pending_totp(db: Database, user_id: str, sealed_secret: str) -> None:
    await db.execute(
        "UPDATE users SET totp_pending_secret = :secret WHERE id = :user_id",
        {"user_id": user_id, "secret": sealed_secret},
    )


async def select_totp(db: Database, user_id: str) -> tuple[str | None, str | None]:
    """(the active secret, the one being set up), both sealed (see ``totp.seal_secret``)."""
    row = await db.fetch_one(
        "SELECT totp_secret, totp_pending_secret FROM users WHERE id = :user_id",
        {"user_id": user_id},
    )
    return (row["totp_secret"], row["totp_pending_secret"]) if row else (None, None)


async def activate_totp(
    db: Database, user_id: str, secret: str, step: int, code_hashes: list[str]
) -> bool:
    """Make the pending secret active, with new recovery codes; False when it changed since."""
    activated = await db.fetch_val(
        """UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL,
                            totp_last_step = :step
            WHERE id = :user_id AND totp_pending_secret = :secret AND totp_secret IS NULL
        RETURNING id""",
        {"user_id": user_id, "secret": secret, "step": step},
    )
    if activated is None:
        return False
    await replace_recovery_codes(db, user_id, code_hashes)
    return True


async def replace_recovery_codes(db: Database, user_id: str, code_hashes: list[str]) -> None:
    """New recovery codes; the old ones, used or not, stop working (call in a transaction)."""
    await db.execute("DELETE FROM recovery_codes WHERE user_id = :user_id", {"user_id": user_id})
    await db.execute_many(
        "INSERT INTO recovery_codes (user_id, code_hash) VALUES (:user_id, :code_hash)",
        [{"user_id": user_id, "code_hash": code_hash} for code_hash in code_hashes],
    )


async def count_recovery_codes(db: Database, user_id: str) -> int:
    """How many of the user's recovery codes are unused."""
    count: int = await db.fetch_val(
        "SELECT count(*) FROM recovery_codes WHERE user_id = :user_id AND used_at IS NULL",
        {"user_id": user_id},
    )
    return count


async def use_totp_step(db: Database, user_id: str, step: int) -> bool:
    """Record ``step`` as used; False when it or a later one was used already (a replay)."""
    used = await db.fetch_val(
        """UPDATE users SET totp_last_step = :step
            WHERE id = :user_id AND totp_secret IS NOT NULL
              AND (totp_last_step IS NULL OR totp_last_step < :step)
        RETURNING id""",
        {"user_id": user_id, "step": step},
    )
    return used is not None


async def use_recovery_code(db: Database, user_id: str, code_hash: str) -> bool:
    used = await db.fetch_val(
        """UPDATE recovery_codes SET used_at = now()
            WHERE user_id = :user_id AND code_hash = :code_hash AND used_at IS NULL
        RETURNING user_id""",
        {"user_id": user_id, "code_hash": code_hash},
    )
    return used is not None


async def delete_totp(db: Database, user_id: str) -> None:
    await db.execute(
        """UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = NULL
            WHERE id = :user_id""",
        {"user_id": user_id},
    )
    await db.execute("DELETE FROM recovery_codes WHERE user_id = :user_id", {"user_id": user_id})


# --- the account log -------------------------------------------------------------------------


async def insert_account_log(
    db: Database, user_id: str, action: str, detail: dict[str, Any], ip_hash: str | None
) -> None:
    await db.execute(
        """INSERT INTO account_log (user_id, action, detail, ip_hash)
           VALUES (:user_id, :action, CAST(:detail AS JSONB), :ip_hash)""",
        {"user_id": user_id, "action": action, "detail": json.dumps(detail), "ip_hash": ip_hash},
    )


@dataclass(frozen=True)
class AccountEvent:
    id: int
    at: datetime
    action: str
    detail: dict[str, Any]


async def select_account_log_page(
    db: Database, user_id: str, limit: int, before_id: int | None
) -> list[AccountEvent]:
    """Up to ``limit`` events of the user newest first, older than ``before_id`` when given."""
    rows = await db.fetch_all(
        """SELECT id, at, action, detail::text AS detail FROM account_log
            WHERE user_id = :user_id
              AND (CAST(:before_id AS BIGINT) IS NULL OR id < :before_id)
            ORDER BY id DESC
            LIMIT :limit""",
        {"user_id": user_id, "before_id": before_id, "limit": limit},
    )
    return [
        AccountEvent(row["id"], row["at"], row["action"], json.loads(row["detail"]))
        for row in rows
    ]


# --- deleting an account ---------------------------------------------------------------------


async def select_sole_owned_orgs(db: Database, user_id: str) -> list[str]:
    """The orgs of which the user is the only owner (call with those orgs locked)."""
    rows = await db.fetch_all(
        """SELECT mine.org_id FROM members AS mine
            WHERE mine.user_id = :user_id AND mine.role = 'owner'
              AND NOT EXISTS (SELECT 1 FROM members AS other
                               WHERE other.org_id = mine.org_id AND other.role = 'owner'
                                 AND other.user_id <> :user_id)""",
        {"user_id": user_id},
    )
    return [str(row["org_id"]) for row in rows]


async def delete_account(db: Database, user_id: str) -> None:
    """Remove the person, keep the id: links and audit entries still name it, and nothing
    about them is left (the email becomes a placeholder on a reserved domain)."""
    for statement in (
        "DELETE FROM members WHERE user_id = :user_id",
        "DELETE FROM sessions WHERE user_id = :user_id",
        "DELETE FROM user_tokens WHERE user_id = :user_id",
        "DELETE FROM recovery_codes WHERE user_id = :user_id",
        "DELETE FROM sso_identities WHERE user_id = :user_id",
        # Tokens act for the person who made them; a deleted person's stop at once.
        "DELETE FROM api_tokens WHERE created_by = :user_id",
        # The outbox keeps addresses: the person's go, and mail not yet sent to them is not sent.
        """DELETE FROM mails
            WHERE lower(recipient) = (SELECT lower(email) FROM users WHERE id = :user_id)""",
        """UPDATE users SET email = 'deleted-' || id || '@deleted.invalid', name = '',
                            password_hash = NULL, email_verified_at = NULL, totp_secret = NULL,
                            totp_pending_secret = NULL, totp_last_step = NULL,
                            deleted_at = now()
            WHERE id = :user_id""",
    ):
        await db.execute(statement, {"user_id": user_id})


# --- single sign-on --------------------------------------------------------------------------


async def insert_sso_login(
    db: Database, state_hash: str, nonce: str, code_verifier: str, expires_at: datetime
) -> None:
    await db.execute(
        "DELETE FROM sso_logins WHERE expires_at <= now()",
    )
    await db.execute(
        """INSERT INTO sso_logins (state_hash, nonce, code_verifier, expires_at)
           VALUES (:state_hash, :nonce, :code_verifier, :expires_at)""",
        {
            "state_hash": state_hash,
            "nonce": nonce,
            "code_verifier": code_verifier,
            "expires_at": expires_at,
        },
    )


async def take_sso_login(db: Database, state_hash: str) -> tuple[str, str] | None:
    """The nonce and PKCE verifier of a login started and not yet finished (once)."""
    row = await db.fetch_one(
        """DELETE FROM sso_logins WHERE state_hash = :state_hash AND expires_at > now()
           RETURNING nonce, code_verifier""",
        {"state_hash": state_hash},
    )
    return None if row is None else (row["nonce"], row["code_verifier"])


async def select_sso_user(db: Database, issuer: str, subject: str) -> User | None:
    row = await db.fetch_one(
        f"""SELECT {USER_COLUMNS} FROM sso_identities
              JOIN users ON users.id = sso_identities.user_id
             WHERE sso_identities.issuer = :issuer AND sso_identities.subject = :subject
               AND users.deleted_at IS NULL""",  # noqa: S608
        {"issuer": issuer, "subject": subject},
    )
    return None if row is None else _user(row)


async def insert_sso_identity(db: Database, issuer: str, subject: str, user_id: str) -> None:
    await db.execute(
        """INSERT INTO sso_identities (issuer, subject, user_id)
           VALUES (:issuer, :subject, :user_id) ON CONFLICT DO NOTHING""",
        {"issuer": issuer, "subject": subject, "user_id": user_id},
    )
