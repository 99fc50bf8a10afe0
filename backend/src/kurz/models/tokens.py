"""Org API tokens: only the SHA-256 of each secret is stored."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from databases import Database
from databases.interfaces import Record

from ..database import fetch_row

Role = Literal["owner", "admin", "member"]
ROLES: tuple[Role, ...] = ("member", "admin", "owner")  # in rising order of power


@dataclass
class TokenUse:
    id: str
    org_id: str
    role: Role  # the lower of the token's own role and its creator's current one
    token_role: Role  # the role the token was made with
    created_by: str  # the person answerable for the token (a live member of its org)


@dataclass
class Token:
    id: str
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None


def _token(row: Record) -> Token:
    return Token(str(row["id"]), row["name"], row["role"], row["created_at"], row["last_used_at"])


async def use_token(db: Database, secret_hash: str) -> TokenUse | None:
    """Find a live token by its hash and stamp ``last_used_at`` in the same statement.

    A token is live while its creator is a member of its org: the join finds nothing once they
    leave, are removed, or their account is deleted (``created_by`` is then null).
    """
    row = await db.fetch_one(
        """UPDATE api_tokens SET last_used_at = now()
             FROM members
            WHERE api_tokens.secret_hash = :secret_hash
              AND members.org_id = api_tokens.org_id
              AND members.user_id = api_tokens.created_by
        RETURNING api_tokens.id, api_tokens.org_id, api_tokens.role, api_tokens.created_by,
                  members.role AS creator_role""",
        {"secret_hash": secret_hash},
    )
    if row is None:
        return None
    return TokenUse(
        id=str(row["id"]),
        org_id=str(row["org_id"]),
        role=lower_role(row["role"], row["creator_role"]),
        token_role=row["role"],
        created_by=str(row["created_by"]),
    )


def lower_role(first: Role, second: Role) -> Role:
    return min(first, second, key=ROLES.index)


async def insert_token(
    db: Database, org_id: str, name: str, role: Role, secret_hash: str, created_by: str
) -> Token:
    row = await fetch_row(
        db,
        """INSERT INTO api_tokens (org_id, name, role, secret_hash, created_by)
            VALUES (:org_id, :name, :role, :secret_hash, :created_by)
            RETURNING id, name, role, created_at, last_used_at""",
        {
            "org_id": org_id,
            "name": name,
            "role": role,
            "secret_hash": secret_hash,
            "created_by": created_by,
        },
    )
    return _token(row)


async def select_tokens(db: Database, org_id: str) -> list[Token]:
    rows = await db.fetch_all(
        """SELECT id, name, role, created_at, last_used_at FROM api_tokens
             WHERE org_id = :org_id ORDER BY created_at DESC, id""",
        {"org_id": org_id},
    )
    return [_token(row) for row in rows]


async def delete_token(db: Database, org_id: str, token_id: str) -> Token | None:
    """Revoke the token: the row goes, so its very next use finds nothing."""
    row = await db.fetch_one(
        """DELETE FROM api_tokens WHERE org_id = :org_id AND id = :token_id
            RETURNING id, name, role, created_at, last_used_at""",
        {"org_id": org_id, "token_id": token_id},
    )
    return None if row is None else _token(row)
