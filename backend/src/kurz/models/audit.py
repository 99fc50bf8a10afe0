"""The append-only audit log of an org (the database refuses updates and deletes)."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from databases import Database


@dataclass
class AuditEntry:
    id: int  # internal: counts up across all orgs, so never shown
    public_id: str
    at: datetime
    actor_id: str | None
    actor_email: str | None
    token_id: str | None
    token_name: str | None
    action: str
    target: str
    detail: dict[str, Any]


async def insert_audit(
    db: Database,
    *,
    org_id: str,
    actor_id: str | None,
    token_id: str | None,
    action: str,
    entries: list[tuple[str, dict[str, Any]]],
    ip_hash: str | None,
) -> None:
    """One entry of ``action`` per (target, detail) in ``entries``, in that order, in one
    statement (a bulk action on many links makes many entries)."""
    await db.execute(
        """INSERT INTO audit_log (org_id, actor_id, token_id, action, target, detail, ip_hash)
           SELECT :org_id, :actor_id, :token_id, :action, entry.target,
                  CAST(entry.detail AS JSONB), :ip_hash
             FROM unnest(CAST(:targets AS TEXT[]), CAST(:details AS TEXT[]))
                  WITH ORDINALITY AS entry (target, detail, position)
            ORDER BY entry.position""",
        {
            "org_id": org_id,
            "actor_id": actor_id,
            "token_id": token_id,
            "action": action,
            "targets": [target for target, _ in entries],
            "details": [json.dumps(detail) for _, detail in entries],
            "ip_hash": ip_hash,
        },
    )


@dataclass
class AuditFilter:
    """Which entries to show; None: no condition."""

    actor: str | None = None  # a user id, or an API token's id
    action: str | None = None  # an action ("link.update"), or its kind ("link")
    link: str | None = None  # a link's slug


# An entry's token by name: the token's current one, or once it is revoked (deleted), the name
# its creation recorded.
TOKEN_NAME = """coalesce(api_tokens.name,
    (SELECT created.detail ->> 'name' FROM audit_log AS created
      WHERE created.org_id = audit_log.org_id AND created.action = 'token.create'
        AND created.target = CAST(audit_log.token_id AS TEXT)
      LIMIT 1))"""  # noqa: S105


async def select_audit_page(
    db: Database,
    org_id: str,
    limit: int,
    before_id: int | None,
    where: AuditFilter | None = None,
) -> list[AuditEntry]:
    """Up to ``limit`` matching entries newest first, older than ``before_id`` when given."""
    where = where or AuditFilter()
    conditions = ["audit_log.org_id = :org_id"]
    values: dict[str, Any] = {"org_id": org_id, "limit": limit}
    if before_id is not None:
        conditions.append("audit_log.id < :before_id")
        values["before_id"] = before_id
    if where.actor is not None:
        conditions.append(
            "(audit_log.actor_id = CAST(:actor AS UUID)"
            " OR audit_log.token_id = CAST(:actor AS UUID))"
        )
        values["actor"] = where.actor
    if where.action is not None:
        if "." in where.action:
            conditions.append("audit_log.action = :action")
        else:
            conditions.append("audit_log.action LIKE :action || '.%'")
        values["action"] = where.action
    if where.link is not None:
        conditions.append("audit_log.target = :link AND audit_log.action LIKE 'link.%'")
        values["link"] = where.link
    rows = await db.fetch_all(
        f"""SELECT audit_log.id, audit_log.public_id, audit_log.at, audit_log.actor_id,
                   users.email AS actor_email, audit_log.token_id,
                   {TOKEN_NAME} AS token_name, audit_log.action, audit_log.target,
                   audit_log.detail::text AS detail
              FROM audit_log
              LEFT JOIN users ON users.id = audit_log.actor_id
              LEFT JOIN api_tokens ON api_tokens.id = audit_log.token_id
             WHERE {" AND ".join(conditions)}
             ORDER BY audit_log.id DESC
             LIMIT :limit""",  # noqa: S608
        values,
    )
    return [
        AuditEntry(
            id=row["id"],
            public_id=str(row["public_id"]),
            at=row["at"],
            actor_id=None if row["actor_id"] is None else str(row["actor_id"]),
            actor_email=row["actor_email"],
            token_id=None if row["token_id"] is None else str(row["token_id"]),
            token_name=row["token_name"],
            action=row["action"],
            target=row["target"],
            detail=json.loads(row["detail"]),
        )
        for row in rows
    ]
