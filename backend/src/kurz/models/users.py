from dataclasses import dataclass
from datetime import datetime

from databases import Database
from databases.interfaces import Record

from ..database import fetch_row


@dataclass
class User:
    id: str
    email: str
    name: str
    email_verified: bool = False
    totp_enabled: bool = False
    has_password: bool = True  # False for an account made by single sign-on, until it sets one


# The columns every query that makes a User reads (of ``users``).
USER_COLUMNS = """users.id, users.email, users.name,
                  users.email_verified_at IS NOT NULL AS email_verified,
                  users.totp_secret IS NOT NULL AS totp_enabled,
                  users.password_hash IS NOT NULL AS has_password"""


def _user(row: Record) -> User:
    return User(
        id=str(row["id"]),
        email=row["email"],
        name=row["name"],
        email_verified=row["email_verified"],
        totp_enabled=row["totp_enabled"],
        has_password=row["has_password"],
    )


async def select_user_by_session(db: Database, session_hash: str) -> User | None:
    row = await db.fetch_one(
        f"""SELECT {USER_COLUMNS}
             FROM sessions JOIN users ON users.id = sessions.user_id
            WHERE sessions.id_hash = :session_hash AND sessions.expires_at > now()""",  # noqa: S608
        {"session_hash": session_hash},
    )
    return None if row is None else _user(row)


async def select_session_started(db: Database, session_hash: str) -> datetime | None:
    """When the live session signed in; None if it is not one."""
    started: datetime | None = await db.fetch_val(
        """SELECT created_at FROM sessions
            WHERE id_hash = :session_hash AND expires_at > now()""",
        {"session_hash": session_hash},
    )
    return started


async def insert_session(
    db: Database, user_id: str, session_hash: str, expires_at: datetime
) -> None:
    await db.execute(
        """INSERT INTO sessions (id_hash, user_id, expires_at)
           VALUES (:session_hash, :user_id, :expires_at)""",
        {"session_hash": session_hash, "user_id": user_id, "expires_at": expires_at},
    )


async def delete_session(db: Database, session_hash: str) -> None:
    await db.execute(
        "DELETE FROM sessions WHERE id_hash = :session_hash", {"session_hash": session_hash}
    )


async def insert_user(
    db: Database, email: str, name: str, password_hash: str | None
) -> User | None:
    """The new user, or None when the email (in any letter case) is already registered.

    ON CONFLICT rather than catching the error: a concurrent registration of the same email
    waits for the first and then gets None, and an enclosing transaction stays usable.
    """
    row = await db.fetch_one(
        """INSERT INTO users (email, name, password_hash)
           VALUES (:email, :name, :password_hash)
           ON CONFLICT ((lower(email))) DO NOTHING
           RETURNING id, email, name, FALSE AS email_verified, FALSE AS totp_enabled,
                     password_hash IS NOT NULL AS has_password""",
        {"email": email, "name": name, "password_hash": password_hash},
    )
    return None if row is None else _user(row)


async def select_user_by_email(db: Database, email: str) -> User | None:
    row = await db.fetch_one(
        f"""SELECT {USER_COLUMNS} FROM users
             WHERE lower(email) = lower(:email) AND deleted_at IS NULL""",  # noqa: S608
        {"email": email},
    )
    return None if row is None else _user(row)


async def select_login(db: Database, email: str) -> tuple[User, str] | None:
    """The user with this email and their password hash."""
    row = await db.fetch_one(
        f"""SELECT {USER_COLUMNS}, password_hash FROM users
            WHERE lower(email) = lower(:email) AND deleted_at IS NULL""",  # noqa: S608
        {"email": email},
    )
    return None if row is None else (_user(row), row["password_hash"])


async def select_password_hash(db: Database, user_id: str) -> str | None:
    password_hash: str | None = await db.fetch_val(
        "SELECT password_hash FROM users WHERE id = :user_id", {"user_id": user_id}
    )
    return password_hash


async def update_password(db: Database, user_id: str, password_hash: str) -> None:
    await db.execute(
        "UPDATE users SET password_hash = :password_hash WHERE id = :user_id",
        {"user_id": user_id, "password_hash": password_hash},
    )


async def delete_other_sessions(db: Database, user_id: str, keep_hash: str | None) -> None:
    """End every session of the user but the one named (the caller's own)."""
    await db.execute(
        "DELETE FROM sessions WHERE user_id = :user_id AND id_hash <> :keep_hash",
        {"user_id": user_id, "keep_hash": keep_hash},
    )


async def delete_expired_sessions(db: Database, user_id: str) -> None:
    await db.execute(
        "DELETE FROM sessions WHERE user_id = :user_id AND expires_at <= now()",
        {"user_id": user_id},
    )


@dataclass
class LoginFailures:
    """Failed logins for one email within the window: from one client address, and from all."""

    from_client: int
    oldest_from_client: datetime | None
    total: int
    oldest: datetime | None


async def count_login_failures(
    db: Database, email_hash: str, client_hash: str, window_seconds: int
) -> LoginFailures:
    row = await fetch_row(
        db,
        """SELECT count(*) FILTER (WHERE client_hash = :client_hash) AS from_client,
                  min(at) FILTER (WHERE client_hash = :client_hash) AS oldest_from_client,
                  count(*) AS total, min(at) AS oldest
             FROM login_failures
            WHERE email_hash = :email_hash
              AND at > now() - make_interval(secs => :window_seconds)""",
        {"email_hash": email_hash, "client_hash": client_hash, "window_seconds": window_seconds},
    )
    return LoginFailures(
        row["from_client"], row["oldest_from_client"], row["total"], row["oldest"]
    )


async def insert_login_failure(
    db: Database, email_hash: str, client_hash: str, window_seconds: int
) -> None:
    """Count one failure, and forget every failure (of any email) older than the window."""
    await db.execute(
        "DELETE FROM login_failures WHERE at <= now() - make_interval(secs => :window_seconds)",
        {"window_seconds": window_seconds},
    )
    await db.execute(
        """INSERT INTO login_failures (email_hash, client_hash)
           VALUES (:email_hash, :client_hash)""",
        {"email_hash": email_hash, "client_hash": client_hash},
    )


async def delete_login_failures(db: Database, email_hash: str) -> None:
    await db.execute(
        "DELETE FROM login_failures WHERE email_hash = :email_hash", {"email_hash": email_hash}
    )
