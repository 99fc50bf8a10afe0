"""The append-only audit log of an org (the database refuses updates and deletes)."""

import json
from dataclasses import dataclass
from datetime import datetime

from databases import Database


@dataclass
class AuditEntry:
    id: int  # internal: counts up across all orgs, so never shown
    public_id: str
    at: datetime
    actor_id: str | None
    actor_email: str | None
    token_id: str | None
    action: str
    target: str
    detail: dict


async def insert_audit(
    db: Database,
    *,
    org_id: str,
    actor_id: str | None,
    token_id: str | None,
    action: str,
    target: str,
    detail: dict,
    ip_hash: str | None,
) -> None:
    await db.execute(
        """INSERT INTO audit_log (org_id, actor_id, token_id, action, target, detail, ip_hash)
           VALUES (:org_id, :actor_id, :token_id, :action, :target, CAST(:detail AS JSONB),
                   :ip_hash)""",
        {
            "org_id": org_id,
            "actor_id": actor_id,
            "token_id": token_id,
            "action": action,
            "target": target,
            "detail": json.dumps(detail),
            "ip_hash": ip_hash,
        },
    )


async def select_audit_page(
    db: Database, org_id: str, limit: int, before_id: int | None
) -> list[AuditEntry]:
    """Up to ``limit`` entries newest first, older than ``before_id`` when given."""
    rows = await db.fetch_all(
        """SELECT audit_log.id, audit_log.public_id, audit_log.at, audit_log.actor_id,
                  users.email AS actor_email,
                  audit_log.token_id, audit_log.action, audit_log.target,
                  audit_log.detail::text AS detail
             FROM audit_log LEFT JOIN users ON users.id = audit_log.actor_id
            WHERE audit_log.org_id = :org_id
              AND (CAST(:before_id AS BIGINT) IS NULL OR audit_log.id < :before_id)
            ORDER BY audit_log.id DESC
            LIMIT :limit""",
        {"org_id": org_id, "before_id": before_id, "limit": limit},
    )
    return [
        AuditEntry(
            id=row["id"],
            public_id=str(row["public_id"]),
            at=row["at"],
            actor_id=None if row["actor_id"] is None else str(row["actor_id"]),
            actor_email=row["actor_email"],
            token_id=None if row["token_id"] is None else str(row["token_id"]),
            action=row["action"],
            target=row["target"],
            detail=json.loads(row["detail"]),
        )
        for row in rows
    ]
