"""Links: the org-scoped CRUD queries, and the one lookup the redirect path makes."""

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from databases import Database

from .clicks import LINK_CLICKS

# The f-strings below only splice in these constant column lists and fixed clauses; every value
# is a bound parameter (hence the S608 waivers).
# Who created a link comes from users (the token, if any, is kept but not shown); its clicks
# are those rolled up plus those written since.
_COLUMNS = f"""links.id, links.org_id, links.slug, links.url, links.title, links.created_at,
              links.updated_at, links.created_by, users.email AS created_by_email,
              links.created_by_token, links.expires_at, links.disabled, links.redirect_status,
              {LINK_CLICKS} AS clicks"""
# Must stay the exact expression of links_search_idx (db/0.py), or the index is not used.
SEARCH_TEXT = "(links.slug || ' ' || links.url || ' ' || coalesce(links.title, ''))"
# The fields PATCH may change (column names; values always go in as parameters).
EDITABLE = ("url", "title", "expires_at", "disabled", "redirect_status")


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
) -> Link | None:
    """The new link, or None when the slug is taken (in any org).

    ON CONFLICT rather than catching the error: a concurrent insert of the same slug waits for
    the first to commit and then gets None, and an enclosing transaction stays usable.
    """
    row = await db.fetch_one(
        f"""WITH changed AS (
                INSERT INTO links (org_id, slug, url, title, created_by, created_by_token,
                                   expires_at, redirect_status)
                VALUES (:org_id, :slug, :url, :title, :created_by, :created_by_token,
                        :expires_at, :redirect_status)
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


# The list's orders: the expression (over a listed link's columns) it sorts by, and whether
# descending. Ties are broken by id in the same direction, so every order is a total order that
# keyset paging can resume from. A link never clicked sorts as last clicked at the epoch.
SORTS = {
    "newest": ("created_at", True),
    "oldest": ("created_at", False),
    "clicks": ("clicks", True),
    "last_clicked": ("coalesce(last_clicked_at, TIMESTAMPTZ 'epoch')", True),
}
# When a link was last clicked by a human: its newest raw click (the newest in its latest batch,
# which the (link_id, batch) index finds without reading all of a link's clicks), or once the
# retention has deleted those, the end of the last day it was clicked on.
LAST_CLICKED = """coalesce(
    (SELECT max(at) FROM clicks
      WHERE clicks.link_id = links.id AND NOT clicks.bot
        AND clicks.batch = (SELECT max(batch) FROM clicks AS newest
                             WHERE newest.link_id = links.id AND NOT newest.bot)),
    (SELECT CAST(max(day) + 1 AS TIMESTAMP) AT TIME ZONE 'UTC' FROM click_days
      WHERE click_days.link_id = links.id AND click_days.clicks > 0))"""
# What each status means; a link is in exactly one (disabled before expired).
STATUSES = {
    "active": "NOT links.disabled AND (links.expires_at IS NULL OR links.expires_at > now())",
    "disabled": "links.disabled",
    "expired": "NOT links.disabled AND links.expires_at <= now()",
    # No link has a click limit yet: the link controls' max_clicks defines this status.
    "limit_reached": "FALSE",
}


@dataclass
class LinkFilter:
    """Which of an org's links a list, a count or a bulk action covers; None: no condition."""

    search: str | None = None
    status: str | None = None
    created_by: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    slugs: list[str] | None = None


def _conditions(org_id: str, where: LinkFilter) -> tuple[list[str], dict]:
    """The SQL conditions (over ``links``) of ``where``, and their values."""
    conditions = ["links.org_id = :org_id"]
    values: dict = {"org_id": org_id}
    if where.search:
        conditions.append(f"{SEARCH_TEXT} ILIKE :pattern")
        values["pattern"] = "%" + _escape_like(where.search) + "%"
    if where.status is not None:
        conditions.append(f"({STATUSES[where.status]})")
    if where.created_by is not None:
        conditions.append("links.created_by = CAST(:created_by AS UUID)")
        values["created_by"] = where.created_by
    if where.created_after is not None:
        conditions.append("links.created_at >= :created_after")
        values["created_after"] = where.created_after
    if where.created_before is not None:
        conditions.append("links.created_at < :created_before")
        values["created_before"] = where.created_before
    if where.slugs is not None:
        conditions.append("links.slug = ANY(:slugs)")
        values["slugs"] = where.slugs
    return conditions, values


async def select_links_page(
    db: Database,
    org_id: str,
    *,
    limit: int,
    where: LinkFilter,
    sort: str = "newest",
    after: tuple[object, int] | None = None,
) -> list[tuple[Link, object]]:
    """Up to ``limit`` matching links in ``sort`` order, each with its sort key, after the
    position ``after`` (a sort key and a link id) when given.

    Keyset paging: a page boundary is a position, not an offset, so links created while a
    client pages never shift later pages (no link is skipped or shown twice).
    """
    key, descending = SORTS[sort]
    conditions, values = _conditions(org_id, where)
    values["limit"] = limit
    direction = "DESC" if descending else "ASC"
    position = ""
    if after is not None:
        position = f"WHERE ({key}, id) {'<' if descending else '>'} (:after_key, :after_id)"
        values.update(after_key=after[0], after_id=after[1])
    last_clicked = f", {LAST_CLICKED} AS last_clicked_at" if sort == "last_clicked" else ""
    rows = await db.fetch_all(
        f"""SELECT *, {key} AS sort_key FROM (
                SELECT {_COLUMNS}{last_clicked}
                  FROM links LEFT JOIN users ON users.id = links.created_by
                 WHERE {" AND ".join(conditions)}
            ) AS listed
            {position}
            ORDER BY {key} {direction}, id {direction}
            LIMIT :limit""",  # noqa: S608
        values,
    )
    return [(_link(row), row["sort_key"]) for row in rows]


async def count_links(db: Database, org_id: str, where: LinkFilter) -> int:
    conditions, values = _conditions(org_id, where)
    return await db.fetch_val(
        f"SELECT count(*) FROM links WHERE {' AND '.join(conditions)}",  # noqa: S608
        values,
    )


async def select_links(db: Database, org_id: str, where: LinkFilter) -> list[Link]:
    """Every matching link, held for update until the transaction ends (for a bulk change)."""
    conditions, values = _conditions(org_id, where)
    rows = await db.fetch_all(
        f"""SELECT {_COLUMNS} FROM links LEFT JOIN users ON users.id = links.created_by
             WHERE {" AND ".join(conditions)}
             ORDER BY links.id
             FOR UPDATE OF links""",  # noqa: S608
        values,
    )
    return [_link(row) for row in rows]


def _escape_like(text: str) -> str:
    """``text`` matched literally by LIKE (backslash is its default escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def update_link(db: Database, org_id: str, slug: str, changes: dict) -> Link | None:
    """Apply ``changes`` (keys from EDITABLE) and stamp ``updated_at``."""
    columns = [column for column in EDITABLE if column in changes]
    assignments = "".join(f", {column} = :{column}" for column in columns)
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


async def update_links_disabled(
    db: Database, org_id: str, ids: list[int], disabled: bool
) -> list[str]:
    """Disable (or enable) these links; the slugs of those that were not so already."""
    rows = await db.fetch_all(
        """UPDATE links SET disabled = :disabled, updated_at = now()
            WHERE org_id = :org_id AND id = ANY(:ids) AND disabled <> :disabled
           RETURNING slug""",
        {"org_id": org_id, "ids": ids, "disabled": disabled},
    )
    return [row["slug"] for row in rows]


async def delete_links(db: Database, org_id: str, ids: list[int]) -> None:
    await db.execute(
        "DELETE FROM links WHERE org_id = :org_id AND id = ANY(:ids)",
        {"org_id": org_id, "ids": ids},
    )


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
