"""Organisations; every user reaches an org only through a membership (see members.py)."""

from dataclasses import dataclass
from datetime import datetime

from databases import Database


@dataclass
class Org:
    id: str
    name: str
    created_at: datetime


@dataclass
class OrgMembership:
    id: str
    name: str
    role: str


def _org(row) -> Org | None:
    return None if row is None else Org(str(row["id"]), row["name"], row["created_at"])


async def insert_org(db: Database, name: str, owner_id: str) -> Org:
    """The new org, with ``owner_id`` as its first owner (call inside a transaction)."""
    org = _org(
        await db.fetch_one(
            "INSERT INTO orgs (name) VALUES (:name) RETURNING id, name, created_at",
            {"name": name},
        )
    )
    await db.execute(
        "INSERT INTO members (org_id, user_id, role) VALUES (:org_id, :user_id, 'owner')",
        {"org_id": org.id, "user_id": owner_id},
    )
    return org


async def select_org(db: Database, org_id: str) -> Org | None:
    return _org(
        await db.fetch_one(
            "SELECT id, name, created_at FROM orgs WHERE id = :org_id", {"org_id": org_id}
        )
    )


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


async def update_org_name(db: Database, org_id: str, name: str) -> Org | None:
    return _org(
        await db.fetch_one(
            """UPDATE orgs SET name = :name WHERE id = :org_id
            RETURNING id, name, created_at""",
            {"org_id": org_id, "name": name},
        )
    )


async def delete_org(db: Database, org_id: str) -> None:
    """Delete the org; its members, invitations, tokens, links and audit log go with it."""
    await db.execute("DELETE FROM orgs WHERE id = :org_id", {"org_id": org_id})
