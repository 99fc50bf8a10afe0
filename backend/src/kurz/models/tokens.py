"""Org API tokens: only the SHA-256 of each secret is stored."""

from dataclasses import dataclass
from datetime import datetime

from databases import Database


@dataclass
class TokenUse:
    id: str
    org_id: str
    role: str
    created_by: str | None  # the user who created the token (None once deleted)


@dataclass
class Token:
    id: str
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None


def _token(row) -> Token:
    return Token(str(row["id"]), row["name"], row["role"], row["created_at"], row["last_used_at"])


async def use_token(db: Database, secret_hash: str) -> TokenUse | None:
    """Find a live token by its hash and stamp ``last_used_at`` in the same statement."""
    row = await db.fetch_one(
        """UPDATE api_tokens SET last_used_at = now()
            WHERE secret_hash = :secret_hash
        RETURNING id, org_id, role, created_by""",
        {"secret_hash": secret_hash},
    )
    if row is None:
        return None
    return TokenUse(
        id=str(row["id"]),
        org_id=str(row["org_id"]),
        role=row["role"],
        created_by=None if row["created_by"] is None else str(row["created_by"]),
    )


async def insert_token(
    db: Database, org_id: str, name: str, role: str, secret_hash: str, created_by: str | None
) -> Token:
    row = await db.fetch_one(
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
