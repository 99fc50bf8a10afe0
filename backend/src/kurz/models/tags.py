"""Tags: an org's names for grouping links, each with a colour. A link holds its tags' ids."""

import hashlib
from dataclasses import dataclass

from databases import Database
from databases.interfaces import Record

# Colours given to a new tag, chosen by its name so that a tag keeps its colour across orgs.
PALETTE = (
    "#2563eb",
    "#16a34a",
    "#dc2626",
    "#9333ea",
    "#ea580c",
    "#0891b2",
    "#ca8a04",
    "#db2777",
    "#4b5563",
    "#0d9488",
)


@dataclass
class Tag:
    id: int
    name: str
    color: str
    links: int


def default_color(name: str) -> str:
    digest = hashlib.sha256(name.lower().encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


async def ensure_tags(db: Database, org_id: str, names: list[str]) -> list[int]:
    """The ids of the org's tags of these names (any letter case), creating the missing ones.

    Two statements: the select sees tags another transaction created (and committed) while
    the insert skipped them.
    """
    if not names:
        return []
    await db.execute(
        """INSERT INTO tags (org_id, name, color)
           SELECT :org_id, name, color
             FROM unnest(CAST(:names AS TEXT[]), CAST(:colors AS TEXT[])) AS n (name, color)
           ON CONFLICT (org_id, lower(name)) DO NOTHING""",
        {"org_id": org_id, "names": names, "colors": [default_color(name) for name in names]},
    )
    rows = await db.fetch_all(
        """SELECT id, lower(name) AS key FROM tags
            WHERE org_id = :org_id AND lower(name) = ANY(CAST(:keys AS TEXT[]))""",
        {"org_id": org_id, "keys": [name.lower() for name in names]},
    )
    ids = {row["key"]: row["id"] for row in rows}
    return [ids[name.lower()] for name in names]


async def select_tag_ids(db: Database, org_id: str, names: list[str]) -> list[int]:
    """The ids of those of the names that are tags of the org (any letter case)."""
    rows = await db.fetch_all(
        """SELECT id FROM tags
            WHERE org_id = :org_id AND lower(name) = ANY(CAST(:keys AS TEXT[]))""",
        {"org_id": org_id, "keys": [name.lower() for name in names]},
    )
    return [row["id"] for row in rows]


_TAG = """SELECT tags.id, tags.name, tags.color,
                 (SELECT count(*) FROM links
                   WHERE links.org_id = tags.org_id AND links.tag_ids @> ARRAY[tags.id]) AS links
            FROM tags"""


def _tag(row: Record) -> Tag:
    return Tag(id=row["id"], name=row["name"], color=row["color"], links=row["links"])


async def select_tags(db: Database, org_id: str) -> list[Tag]:
    rows = await db.fetch_all(
        _TAG + " WHERE tags.org_id = :org_id ORDER BY lower(tags.name), tags.id",
        {"org_id": org_id},
    )
    return [_tag(row) for row in rows]


async def select_tag(db: Database, org_id: str, name: str, *, lock: bool = False) -> Tag | None:
    row = await db.fetch_one(
        _TAG
        + " WHERE tags.org_id = :org_id AND lower(tags.name) = lower(:name)"
        + (" FOR UPDATE OF tags" if lock else ""),
        {"org_id": org_id, "name": name},
    )
    return None if row is None else _tag(row)


async def name_taken(db: Database, org_id: str, name: str, tag_id: int) -> bool:
    """Whether another tag of the org has this name (any letter case)."""
    taken = await db.fetch_val(
        """SELECT EXISTS (SELECT 1 FROM tags WHERE org_id = :org_id AND id <> :id
                             AND lower(name) = lower(:name))""",
        {"org_id": org_id, "id": tag_id, "name": name},
    )
    return bool(taken)


async def update_tag(db: Database, org_id: str, tag_id: int, name: str, color: str) -> None:
    await db.execute(
        "UPDATE tags SET name = :name, color = :color WHERE org_id = :org_id AND id = :id",
        {"org_id": org_id, "id": tag_id, "name": name, "color": color},
    )


async def delete_tag(db: Database, org_id: str, tag_id: int) -> None:
    """Delete a tag that no link carries any more."""
    await db.execute(
        "DELETE FROM tags WHERE org_id = :org_id AND id = :id", {"org_id": org_id, "id": tag_id}
    )
