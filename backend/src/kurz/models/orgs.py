"""Organisations; every user reaches an org only through a membership (see members.py)."""

from dataclasses import dataclass, field
from datetime import datetime

from databases import Database
from databases.interfaces import Record

from ..database import fetch_row
from .tokens import Role


@dataclass
class Org:
    id: str
    name: str
    created_at: datetime
    require_2fa: bool = False
    sso_domains: list[str] = field(default_factory=list)


@dataclass
class OrgMembership:
    id: str
    name: str
    role: Role


ORG_COLUMNS = "id, name, created_at, require_2fa, sso_domains"


def _org(row: Record) -> Org:
    return Org(
        id=str(row["id"]),
        name=row["name"],
        created_at=row["created_at"],
        require_2fa=row["require_2fa"],
        sso_domains=list(row["sso_domains"]),
    )


async def insert_org(db: Database, name: str, owner_id: str) -> Org:
    """The new org, with ``owner_id`` as its first owner (call inside a transaction)."""
    org = _org(
        await fetch_row(
            db,
            f"INSERT INTO orgs (name) VALUES (:name) RETURNING {ORG_COLUMNS}",  # noqa: S608
            {"name": name},
        )
    )
    await db.execute(
        "INSERT INTO members (org_id, user_id, role) VALUES (:org_id, :user_id, 'owner')",
        {"org_id": org.id, "user_id": owner_id},
    )
    return org


async def select_org(db: Database, org_id: str) -> Org | None:
    row = await db.fetch_one(
        f"SELECT {ORG_COLUMNS} FROM orgs WHERE id = :org_id",  # noqa: S608
        {"org_id": org_id},
    )
    return None if row is None else _org(row)


async def lock_org(db: Database, org_id: str) -> None:
    """Serialise membership changes of one org until the transaction ends.

    Without it, two owners demoting each other at once would each still see the other owner,
    and the org would end up with none.
    """
    await db.execute("SELECT id FROM orgs WHERE id = :org_id FOR UPDATE", {"org_id": org_id})


async def select_memberships(db: Database, user_id: str) -> list[OrgMembership]:
    """The orgs the user belongs to, with their role in each, by name."""
    rows = await db.fetch_all(
        """SELECT orgs.id, orgs.name, members.role
             FROM members JOIN orgs ON orgs.id = members.org_id
            WHERE members.user_id = :user_id
            ORDER BY lower(orgs.name), orgs.id""",
        {"user_id": user_id},
    )
    return [OrgMembership(str(row["id"]), row["name"], row["role"]) for row in rows]


async def update_org_name(db: Database, org_id: str, name: str) -> Org:
    """The changed org (the caller has locked it)."""
    row = await fetch_row(
        db,
        f"""UPDATE orgs SET name = :name WHERE id = :org_id
        RETURNING {ORG_COLUMNS}""",  # noqa: S608
        {"org_id": org_id, "name": name},
    )
    return _org(row)


async def update_org_security(
    db: Database, org_id: str, require_2fa: bool, sso_domains: list[str]
) -> Org:
    """The changed org (the caller has locked it)."""
    row = await fetch_row(
        db,
        f"""UPDATE orgs SET require_2fa = :require_2fa, sso_domains = :sso_domains
             WHERE id = :org_id
         RETURNING {ORG_COLUMNS}""",  # noqa: S608
        {"org_id": org_id, "require_2fa": require_2fa, "sso_domains": sso_domains},
    )
    return _org(row)


async def select_require_2fa(db: Database, org_id: str) -> bool:
    return bool(
        await db.fetch_val("SELECT require_2fa FROM orgs WHERE id = :org_id", {"org_id": org_id})
    )


async def join_sso_orgs(db: Database, user_id: str, domain: str) -> list[str]:
    """Make the user a member of every org that lists ``domain``; the orgs newly joined."""
    rows = await db.fetch_all(
        """INSERT INTO members (org_id, user_id, role)
           SELECT id, :user_id, 'member' FROM orgs WHERE sso_domains @> ARRAY[:domain]::TEXT[]
           ON CONFLICT DO NOTHING
           RETURNING org_id""",
        {"user_id": user_id, "domain": domain},
    )
    return [str(row["org_id"]) for row in rows]


async def delete_org(db: Database, org_id: str) -> None:
    """Delete the org; its members, invitations, tokens, links and audit log go with it."""
    await db.execute("DELETE FROM orgs WHERE id = :org_id", {"org_id": org_id})
