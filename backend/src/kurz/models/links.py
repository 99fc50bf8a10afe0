"""Links: the org-scoped CRUD queries, and the one lookup the redirect path makes."""

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from databases import Database

from .clicks import LINK_CLICKS

# The f-strings below only splice in these constant column lists and fixed clauses; every value
# is a bound parameter (hence the S608 waivers).
# A link's tag names, alphabetical.
TAG_NAMES = """ARRAY(SELECT tags.name FROM tags WHERE tags.id = ANY(links.tag_ids)
                     ORDER BY lower(tags.name))"""
# Who created a link comes from users (the token, if any, is kept but not shown); its clicks
# are those rolled up plus those written since.
_COLUMNS = f"""links.id, links.org_id, links.slug, links.url, links.title, links.created_at,
              links.updated_at, links.created_by, users.email AS created_by_email,
              links.created_by_token, links.expires_at, links.disabled, links.redirect_status,
              {LINK_CLICKS} AS clicks, {TAG_NAMES} AS tags"""
# Must stay the exact expression of links_search_idx (db/0.py), or the index is not used.
SEARCH_TEXT = "(links.slug || ' ' || links.url || ' ' || coalesce(links.title, ''))"
# The fields PATCH may change (column names; values always go in as parameters).
EDITABLE = ("url", "title", "expires_at", "disabled", "redirect_status", "tag_ids")


@dataclass
class Link:
    id: int
    org_id: str
    slug: str
    url: str
    title: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    created_by_email: str | None
    created_by_token: str | None
    expires_at: datetime | None
    disabled: bool
    redirect_status: int
    clicks: int
    tags: list[str]


@dataclass(frozen=True)
class RedirectTarget:
    id: int
    url: str
    redirect_status: int
    expires_at: datetime | None
    disabled: bool


def _uuid(value) -> str | None:
    return None if value is None else str(value)


def _link(row) -> Link | None:
    if row is None:
        return None
    return Link(
        id=row["id"],
        org_id=str(row["org_id"]),
        slug=row["slug"],
        url=row["url"],
        title=row["title"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        created_by=_uuid(row["created_by"]),
        created_by_email=row["created_by_email"],
        created_by_token=_uuid(row["created_by_token"]),
        expires_at=row["expires_at"],
        disabled=row["disabled"],
        redirect_status=row["redirect_status"],
        clicks=row["clicks"],
        tags=list(row["tags"]),
    )


async def insert_link(
    db: Database,
    *,
    org_id: str,
    slug: str,
    url: str,
    title: str | None,
    created_by: str | None,
    created_by_token: str | None,
    expires_at: datetime | None,
    redirect_status: int,
    tag_ids: list[int] | None = None,
) -> Link | None:
    """The new link, or None when the slug is taken (in any org).

    ON CONFLICT rather than catching the error: a concurrent insert of the same slug waits for
    the first to commit and then gets None, and an enclosing transaction stays usable.
    """
    row = await db.fetch_one(
        f"""WITH changed AS (
                INSERT INTO links (org_id, slug, url, title, created_by, created_by_token,
                                   expires_at, redirect_status, tag_ids)
                VALUES (:org_id, :slug, :url, :title, :created_by, :created_by_token,
                        :expires_at, :redirect_status, CAST(:tag_ids AS BIGINT[]))
                ON CONFLICT (slug) DO NOTHING
                RETURNING *
            )
            SELECT {_COLUMNS} FROM changed AS links
              LEFT JOIN users ON users.id = links.created_by""",  # noqa: S608
        {
            "org_id": org_id,
            "slug": slug,
            "url": url,
            "title": title,
            "created_by": created_by,
            "created_by_token": created_by_token,
            "expires_at": expires_at,
            "redirect_status": redirect_status,
            "tag_ids": tag_ids or [],
        },
    )
    return _link(row)


async def select_link(db: Database, org_id: str, slug: str, *, lock: bool = False) -> Link | None:
    """The org's link with this slug; ``lock`` holds it for update until the transaction ends."""
    row = await db.fetch_one(
        f"""SELECT {_COLUMNS} FROM links LEFT JOIN users ON users.id = links.created_by
             WHERE links.org_id = :org_id AND links.slug = :slug
             {"FOR UPDATE OF links" if lock else ""}""",  # noqa: S608
        {"org_id": org_id, "slug": slug},
    )
    return _link(row)


async def select_links_page(
    db: Database,
    org_id: str,
    *,
    limit: int,
    before: tuple[datetime, int] | None = None,
    search: str | None = None,
    tag_ids: list[int] | None = None,
    all_tags: bool = False,
) -> list[Link]:
    """Up to ``limit`` links newest first, strictly older than ``before`` (created_at, id).

    Keyset paging: a page boundary is a position, not an offset, so links created while a
    client pages appear before its first page instead of shifting later pages.
    """
    conditions, values = link_filters(org_id, search, tag_ids, all_tags)
    values["limit"] = limit
    if before is not None:
        conditions.append("(links.created_at, links.id) < (:before_at, :before_id)")
        values.update(before_at=before[0], before_id=before[1])
    rows = await db.fetch_all(
        f"""SELECT {_COLUMNS} FROM links LEFT JOIN users ON users.id = links.created_by
             WHERE {" AND ".join(conditions)}
             ORDER BY links.created_at DESC, links.id DESC
             LIMIT :limit""",  # noqa: S608
        values,
    )
    return [_link(row) for row in rows]


def link_filters(
    org_id: str,
    search: str | None = None,
    tag_ids: list[int] | None = None,
    all_tags: bool = False,
) -> tuple[list[str], dict]:
    """The WHERE conditions (joined by AND) and values of the list's filters.

    ``tag_ids``: links with any of them (all of them with ``all_tags``); None: no tag filter.
    The GIN index on ``tag_ids`` serves both operators.
    """
    conditions = ["links.org_id = :org_id"]
    values: dict = {"org_id": org_id}
    if search:
        conditions.append(f"{SEARCH_TEXT} ILIKE :pattern")
        values["pattern"] = "%" + _escape_like(search) + "%"
    if tag_ids is not None:
        operator = "@>" if all_tags else "&&"
        conditions.append(f"links.tag_ids {operator} CAST(:tag_ids AS BIGINT[])")
        values["tag_ids"] = tag_ids
    return conditions, values


def _escape_like(text: str) -> str:
    """``text`` matched literally by LIKE (backslash is its default escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def update_link(db: Database, org_id: str, slug: str, changes: dict) -> Link | None:
    """Apply ``changes`` (keys from EDITABLE) and stamp ``updated_at``."""
    columns = [column for column in EDITABLE if column in changes]
    casts = {"tag_ids": "CAST(:tag_ids AS BIGINT[])"}
    assignments = "".join(f", {column} = {casts.get(column, ':' + column)}" for column in columns)
    row = await db.fetch_one(
        f"""WITH changed AS (
                UPDATE links SET updated_at = now(){assignments}
                 WHERE org_id = :org_id AND slug = :slug
                RETURNING *
            )
            SELECT {_COLUMNS} FROM changed AS links
              LEFT JOIN users ON users.id = links.created_by""",  # noqa: S608
        {"org_id": org_id, "slug": slug, **{column: changes[column] for column in columns}},
    )
    return _link(row)


async def delete_link(db: Database, org_id: str, slug: str) -> bool:
    deleted = await db.fetch_val(
        "DELETE FROM links WHERE org_id = :org_id AND slug = :slug RETURNING id",
        {"org_id": org_id, "slug": slug},
    )
    return deleted is not None


async def select_redirect(pool: asyncpg.Pool, slug: str) -> RedirectTarget | None:
    """What ``/<slug>`` answers; any org (slugs are unique across the service).

    The one query on the redirect path, so it skips ``databases`` (which compiles every query
    through SQLAlchemy) for a raw asyncpg pool and its cached prepared statement: a cache miss
    costs a quarter of what it would.
    """
    row = await pool.fetchrow(
        "SELECT id, url, redirect_status, expires_at, disabled FROM links WHERE slug = $1", slug
    )
    if row is None:
        return None
    return RedirectTarget(
        id=row["id"],
        url=row["url"],
        redirect_status=row["redirect_status"],
        expires_at=row["expires_at"],
        disabled=row["disabled"],
    )
