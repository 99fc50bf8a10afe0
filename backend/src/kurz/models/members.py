"""Memberships (a user's role in an org) and pending invitations of emails not yet registered."""

from dataclasses import dataclass
from datetime import datetime

from databases import Database
from databases.interfaces import Record

from ..database import SCHEMA_LOCKS, fetch_row
from .tokens import Role


@dataclass
class Member:
    user_id: str
    email: str
    name: str
    role: Role
    joined_at: datetime


@dataclass
class Invitation:
    email: str
    role: Role
    created_at: datetime


def _member(row: Record) -> Member:
    return Member(str(row["user_id"]), row["email"], row["name"], row["role"], row["joined_at"])


def _invitation(row: Record) -> Invitation:
    return Invitation(row["email"], row["role"], row["created_at"])


async def select_role(db: Database, org_id: str, user_id: str) -> Role | None:
    """The user's role in the org, None when not a member (or no such org)."""
    role: Role | None = await db.fetch_val(
        "SELECT role FROM members WHERE org_id = :org_id AND user_id = :user_id",
        {"org_id": org_id, "user_id": user_id},
    )
    return role


async def select_members(db: Database, org_id: str) -> list[Member]:
    rows = await db.fetch_all(
        """SELECT members.user_id, users.email, users.name, members.role, members.joined_at
              FROM members JOIN users ON users.id = members.user_id
             WHERE members.org_id = :org_id
             ORDER BY members.joined_at, users.email""",
        {"org_id": org_id},
    )
    return [_member(row) for row in rows]


async def select_two_factor_members(db: Database, org_id: str) -> set[str]:
    """The ids of the org's members who sign in with two-factor."""
    rows = await db.fetch_all(
        """SELECT members.user_id FROM members JOIN users ON users.id = members.user_id
            WHERE members.org_id = :org_id AND users.totp_secret IS NOT NULL""",
        {"org_id": org_id},
    )
    return {str(row["user_id"]) for row in rows}


async def select_member(db: Database, org_id: str, user_id: str) -> Member | None:
    row = await db.fetch_one(
        """SELECT members.user_id, users.email, users.name, members.role, members.joined_at
              FROM members JOIN users ON users.id = members.user_id
             WHERE members.org_id = :org_id AND members.user_id = :user_id""",
        {"org_id": org_id, "user_id": user_id},
    )
    return None if row is None else _member(row)


async def insert_member(db: Database, org_id: str, user_id: str, role: Role) -> Member | None:
    """The new membership, or None when the user already is a member."""
    row = await db.fetch_one(
        """WITH added AS (
                INSERT INTO members (org_id, user_id, role) VALUES (:org_id, :user_id, :role)
                ON CONFLICT DO NOTHING
                RETURNING *
            )
            SELECT members.user_id, users.email, users.name, members.role, members.joined_at
              FROM added AS members JOIN users ON users.id = members.user_id""",
        {"org_id": org_id, "user_id": user_id, "role": role},
    )
    return None if row is None else _member(row)


async def update_member_role(db: Database, org_id: str, user_id: str, role: Role) -> Member:
    """The member with the new role (the caller has found and locked the membership)."""
    row = await fetch_row(
        db,
        """WITH changed AS (
                UPDATE members SET role = :role WHERE org_id = :org_id AND user_id = :user_id
                RETURNING *
            )
            SELECT members.user_id, users.email, users.name, members.role, members.joined_at
              FROM changed AS members JOIN users ON users.id = members.user_id""",
        {"org_id": org_id, "user_id": user_id, "role": role},
    )
    return _member(row)


async def delete_member(db: Database, org_id: str, user_id: str) -> None:
    await db.execute(
        "DELETE FROM members WHERE org_id = :org_id AND user_id = :user_id",
        {"org_id": org_id, "user_id": user_id},
    )


async def count_owners(db: Database, org_id: str) -> int:
    owners: int = await db.fetch_val(
        "SELECT count(*) FROM members WHERE org_id = :org_id AND role = 'owner'",
        {"org_id": org_id},
    )
    return owners


async def lock_email(db: Database, email: str) -> None:
    """Serialise "invite this email" with "register this email" until the transaction ends.

    Otherwise an invitation written while that email registers could miss the conversion into
    a membership and stay pending for good.
    """
    await db.execute(
        f"SELECT pg_advisory_xact_lock({SCHEMA_LOCKS}, hashtext('kurz-email:' || lower(:email)))",
        {"email": email},
    )


async def select_invitations(db: Database, org_id: str) -> list[Invitation]:
    rows = await db.fetch_all(
        """SELECT email, role, created_at FROM invitations
            WHERE org_id = :org_id ORDER BY created_at, email""",
        {"org_id": org_id},
    )
    return [_invitation(row) for row in rows]


async def select_invitation(db: Database, org_id: str, email: str) -> Invitation | None:
    row = await db.fetch_one(
        """SELECT email, role, created_at FROM invitations
            WHERE org_id = :org_id AND lower(email) = lower(:email)""",
        {"org_id": org_id, "email": email},
    )
    return None if row is None else _invitation(row)


async def upsert_invitation(
    db: Database, org_id: str, email: str, role: Role, invited_by: str | None
) -> Invitation:
    """Invite the email, or give its pending invitation the new role."""
    row = await fetch_row(
        db,
        """INSERT INTO invitations (org_id, email, role, invited_by)
           VALUES (:org_id, :email, :role, :invited_by)
           ON CONFLICT (org_id, (lower(email)))
           DO UPDATE SET role = EXCLUDED.role, invited_by = EXCLUDED.invited_by
           RETURNING email, role, created_at""",
        {"org_id": org_id, "email": email, "role": role, "invited_by": invited_by},
    )
    return _invitation(row)


async def delete_invitation(db: Database, org_id: str, email: str) -> None:
    await db.execute(
        "DELETE FROM invitations WHERE org_id = :org_id AND lower(email) = lower(:email)",
        {"org_id": org_id, "email": email},
    )


async def accept_invitations(db: Database, user_id: str, email: str) -> list[tuple[str, Role]]:
    """Turn every invitation of ``email`` into a membership of ``user_id``: (org_id, role)s."""
    rows = await db.fetch_all(
        """WITH accepted AS (
               DELETE FROM invitations WHERE lower(email) = lower(:email)
               RETURNING org_id, role
           )
           INSERT INTO members (org_id, user_id, role)
           SELECT org_id, :user_id, role FROM accepted
           ON CONFLICT DO NOTHING
           RETURNING org_id, role""",
        {"email": email, "user_id": user_id},
    )
    return [(str(row["org_id"]), row["role"]) for row in rows]
