from dataclasses import dataclass

from databases import Database


@dataclass
class TokenUse:
    id: str
    org_id: str
    role: str


async def use_token(db: Database, secret_hash: str) -> TokenUse | None:
    """Find a live token by its hash and stamp ``last_used_at`` in the same statement."""
    row = await db.fetch_one(
        """UPDATE api_tokens SET last_used_at = now()
            WHERE secret_hash = :secret_hash
        RETURNING id, org_id, role""",
        {"secret_hash": secret_hash},
    )
    if row is None:
        return None
    return TokenUse(id=str(row["id"]), org_id=str(row["org_id"]), role=row["role"])
