"""Links: the org-scoped CRUD queries, and the one lookup the redirect path makes."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg
from databases import Database
from databases.interfaces import Record

from ..database import fetch_row
from .clicks import LINK_CLICKS, UNCOUNT_GONE_LINKS

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
              {LINK_CLICKS} AS clicks, links.password_hash, links.max_clicks, links.clicks_used,
              links.expired_url, links.rules, links.domain_id, domains.hostname AS domain,
              {TAG_NAMES} AS tags"""
_JOINS = """LEFT JOIN users ON users.id = links.created_by
            LEFT JOIN domains ON domains.id = links.domain_id"""


def _named(domain_id: int | None) -> str:
    """A link is named by its slug on a domain (domain_id NULL: the default domain); spelt
    out either way so that links_domain_slug_idx serves it."""
    if domain_id is None:
        return "links.slug = :slug AND links.domain_id IS NULL"
    return "links.slug = :slug AND links.domain_id = :domain_id"


def _name(slug: str, domain_id: int | None) -> dict[str, Any]:
    return {"slug": slug} if domain_id is None else {"slug": slug, "domain_id": domain_id}


# Must stay the exact expression of links_search_idx (db/0.py), or the index is not used.
SEARCH_TEXT = "(links.slug || ' ' || links.url || ' ' || coalesce(links.title, ''))"
# The fields PATCH may change (column names; values always go in as parameters).
EDITABLE = (
    "url",
    "title",
    "expires_at",
    "disabled",
    "redirect_status",
    "password_hash",
    "max_clicks",
    "expired_url",
    "rules",
    "tag_ids",
)


_REDIRECT = """SELECT id, url, redirect_status, expires_at, disabled, password_hash, max_clicks,
                      expired_url, rules
                 FROM links WHERE """


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
    password_hash: str | None = field(default=None, repr=False)
    max_clicks: int | None = None
    clicks_used: int = 0
    expired_url: str | None = None
    rules: list[dict[str, str]] = field(default_factory=list)  # {country?, device?, os?, url}
    domain_id: int | None = None  # its branded domain; None: the default domain
    domain: str | None = None  # that domain's hostname
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RedirectTarget:
    id: int
    url: str
    redirect_status: int
    expires_at: datetime | None
    disabled: bool
    password_hash: str | None = field(default=None, repr=False)
    max_clicks: int | None = None
    expired_url: str | None = None
    rules: Sequence[dict[str, str]] = ()  # of {country?, device?, os?, url}


def _uuid(value: object) -> str | None:
    return None if value is None else str(value)


def _link(row: Record) -> Link:
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
        password_hash=row["password_hash"],
        max_clicks=row["max_clicks"],
        clicks_used=row["clicks_used"],
        expired_url=row["expired_url"],
        rules=json.loads(row["rules"]),
        domain_id=row["domain_id"],
        domain=row["domain"],
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
    password_hash: str | None = None,
    max_clicks: int | None = None,
    expired_url: str | None = None,
    rules: list[dict[str, str]] | None = None,
    domain_id: int | None = None,
    tag_ids: list[int] | None = None,
) -> Link | None:
    """The new link, or None when the slug is taken on its domain (in any org).

    ON CONFLICT rather than catching the error: a concurrent insert of the same slug waits for
    the first to commit and then gets None, and an enclosing transaction stays usable.
    """
    row = await db.fetch_one(
        f"""WITH changed AS (
                INSERT INTO links (org_id, slug, url, title, created_by, created_by_token,
                                   expires_at, redirect_status, password_hash, max_clicks,
                                   expired_url, rules, domain_id, tag_ids)
                VALUES (:org_id, :slug, :url, :title, :created_by, :created_by_token,
                        :expires_at, :redirect_status, :password_hash, :max_clicks,
                        :expired_url, CAST(:rules AS JSONB), :domain_id,
                        CAST(:tag_ids AS BIGINT[]))
                ON CONFLICT (domain_id, slug) DO NOTHING
                RETURNING *
            )
            SELECT {_COLUMNS} FROM changed AS links {_JOINS}""",  # noqa: S608
        {
            "org_id": org_id,
            "slug": slug,
            "url": url,
            "title": title,
            "created_by": created_by,
            "created_by_token": created_by_token,
            "expires_at": expires_at,
            "redirect_status": redirect_status,
            "password_hash": password_hash,
            "max_clicks": max_clicks,
            "expired_url": expired_url,
            "rules": json.dumps(rules or []),
            "domain_id": domain_id,
            "tag_ids": tag_ids or [],
        },
    )
    return None if row is None else _link(row)


async def select_link(
    db: Database, org_id: str, slug: str, *, lock: bool = False, domain_id: int | None = None
) -> Link | None:
    """The org's link with this slug on this domain; ``lock`` holds it for update until the
    transaction ends."""
    row = await db.fetch_one(
        f"""SELECT {_COLUMNS} FROM links {_JOINS}
             WHERE links.org_id = :org_id AND {_named(domain_id)}
             {"FOR UPDATE OF links" if lock else ""}""",  # noqa: S608
        {"org_id": org_id, **_name(slug, domain_id)},
    )
    return None if row is None else _link(row)


# The list's orders: the expression (over a listed link's columns) it sorts by, and whether
# descending. Ties are broken by id in the same direction, so every order is a total order that
# keyset paging can resume from. A link never clicked sorts as last clicked at the epoch.
Sort = Literal["newest", "oldest", "clicks", "last_clicked"]
SORTS: dict[Sort, tuple[str, bool]] = {
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
# What each status means; a link is in exactly one (disabled before expired before used up).
_LIVE = "NOT links.disabled AND (links.expires_at IS NULL OR links.expires_at > now())"
Status = Literal["active", "disabled", "expired", "limit_reached"]
STATUSES: dict[Status, str] = {
    "active": f"{_LIVE} AND (links.max_clicks IS NULL OR links.clicks_used < links.max_clicks)",
    "disabled": "links.disabled",
    "expired": "NOT links.disabled AND links.expires_at <= now()",
    "limit_reached": f"{_LIVE} AND links.clicks_used >= links.max_clicks",
}


@dataclass
class LinkFilter:
    """Which of an org's links a list, a count or a bulk action covers; None: no condition."""

    search: str | None = None
    status: Status | None = None
    created_by: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    slugs: list[str] | None = None
    tag_ids: list[int] | None = None  # links with any of them (all of them with all_tags)
    all_tags: bool = False
    on_domain: bool = False  # only the links on the domain domain_id (None: the default one)
    domain_id: int | None = None


def link_filters(org_id: str, where: LinkFilter) -> tuple[list[str], dict[str, Any]]:
    """The SQL conditions (over ``links``, joined by AND) of ``where``, and their values. The
    GIN index on ``tag_ids`` serves both tag operators."""
    conditions = ["links.org_id = :org_id"]
    values: dict[str, Any] = {"org_id": org_id}
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
    if where.tag_ids is not None:
        operator = "@>" if where.all_tags else "&&"
        conditions.append(f"links.tag_ids {operator} CAST(:tag_ids AS BIGINT[])")
        values["tag_ids"] = where.tag_ids
    if where.on_domain and where.domain_id is None:
        conditions.append("links.domain_id IS NULL")
    elif where.on_domain:
        conditions.append("links.domain_id = :domain_id")
        values["domain_id"] = where.domain_id
    return conditions, values


async def select_links_page(
    db: Database,
    org_id: str,
    *,
    limit: int,
    where: LinkFilter,
    sort: Sort = "newest",
    after: tuple[datetime | int, int] | None = None,
) -> list[tuple[Link, datetime | int]]:
    """Up to ``limit`` matching links in ``sort`` order, each with its sort key, after the
    position ``after`` (a sort key and a link id) when given.

    Keyset paging: a page boundary is a position, not an offset, so links created while a
    client pages never shift later pages (no link is skipped or shown twice).
    """
    key, descending = SORTS[sort]
    conditions, values = link_filters(org_id, where)
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
                  FROM links {_JOINS}
                 WHERE {" AND ".join(conditions)}
            ) AS listed
            {position}
            ORDER BY {key} {direction}, id {direction}
            LIMIT :limit""",  # noqa: S608
        values,
    )
    return [(_link(row), row["sort_key"]) for row in rows]


async def count_links(db: Database, org_id: str, where: LinkFilter) -> int:
    conditions, values = link_filters(org_id, where)
    count: int = await db.fetch_val(
        f"SELECT count(*) FROM links WHERE {' AND '.join(conditions)}",  # noqa: S608
        values,
    )
    return count


async def select_links(db: Database, org_id: str, where: LinkFilter) -> list[Link]:
    """Every matching link, held for update until the transaction ends (for a bulk change)."""
    conditions, values = link_filters(org_id, where)
    rows = await db.fetch_all(
        f"""SELECT {_COLUMNS} FROM links {_JOINS}
             WHERE {" AND ".join(conditions)}
             ORDER BY links.id
             FOR UPDATE OF links""",  # noqa: S608
        values,
    )
    return [_link(row) for row in rows]


def _escape_like(text: str) -> str:
    """``text`` matched literally by LIKE (backslash is its default escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def update_link(
    db: Database, org_id: str, slug: str, changes: dict[str, Any], domain_id: int | None = None
) -> Link:
    """Apply ``changes`` (keys from EDITABLE) and stamp ``updated_at`` (of a link the caller has
    locked, or made in its transaction)."""
    columns = [column for column in EDITABLE if column in changes]
    casts = {"rules": "CAST(:rules AS JSONB)", "tag_ids": "CAST(:tag_ids AS BIGINT[])"}
    assignments = "".join(f", {column} = {casts.get(column, ':' + column)}" for column in columns)
    values = {column: changes[column] for column in columns}
    if "rules" in values:
        values["rules"] = json.dumps(values["rules"])
    row = await fetch_row(
        db,
        f"""WITH changed AS (
                UPDATE links SET updated_at = now(){assignments}
                 WHERE org_id = :org_id AND {_named(domain_id)}
                RETURNING *
            )
            SELECT {_COLUMNS} FROM changed AS links {_JOINS}""",  # noqa: S608
        {"org_id": org_id, **_name(slug, domain_id), **values},
    )
    return _link(row)


async def update_links(
    db: Database,
    org_id: str,
    ids: list[int],
    *,
    disabled: bool | None = None,
    add_tag_ids: list[int] | None = None,
    remove_tag_ids: list[int] | None = None,
) -> list[Link]:
    """Disable (or enable) these links and add and take off tags, each only where given; the
    links this changed, as they are now."""
    rows = await db.fetch_all(
        f"""WITH changed AS (
                UPDATE links
                   SET disabled = coalesce(:disabled, disabled),
                       tag_ids = ARRAY(SELECT unnest(tag_ids || CAST(:add AS BIGINT[]))
                                       EXCEPT SELECT unnest(CAST(:remove AS BIGINT[]))),
                       updated_at = now()
                 WHERE org_id = :org_id AND id = ANY(:ids)
                   AND (disabled <> coalesce(:disabled, disabled)
                        OR NOT tag_ids @> CAST(:add AS BIGINT[])
                        OR tag_ids && CAST(:remove AS BIGINT[]))
                RETURNING *
            )
            SELECT {_COLUMNS} FROM changed AS links {_JOINS} ORDER BY links.id""",  # noqa: S608
        {
            "org_id": org_id,
            "ids": ids,
            "disabled": disabled,
            "add": add_tag_ids or [],
            "remove": remove_tag_ids or [],
        },
    )
    return [_link(row) for row in rows]


async def delete_links(db: Database, org_id: str, ids: list[int]) -> None:
    await db.execute(
        f"""WITH gone AS (
                DELETE FROM links WHERE org_id = :org_id AND id = ANY(:ids) RETURNING id, org_id
            ), {UNCOUNT_GONE_LINKS}
            SELECT count(*) FROM gone""",  # noqa: S608
        {"org_id": org_id, "ids": ids},
    )


async def delete_link(db: Database, org_id: str, slug: str, domain_id: int | None = None) -> bool:
    deleted = await db.fetch_val(
        f"""WITH gone AS (
                DELETE FROM links WHERE org_id = :org_id AND {_named(domain_id)}
                RETURNING id, org_id
            ), {UNCOUNT_GONE_LINKS}
            SELECT id FROM gone""",  # noqa: S608
        {"org_id": org_id, **_name(slug, domain_id)},
    )
    return deleted is not None


async def select_redirect(
    pool: asyncpg.Pool, slug: str, domain_id: int | None = None
) -> RedirectTarget | None:
    """What ``/<slug>`` answers on the default domain (any org: its slugs are unique across the
    service), or on the branded domain ``domain_id``.

    The one query on the redirect path, so it skips ``databases`` (which compiles every query
    through SQLAlchemy) for a raw asyncpg pool and its cached prepared statement: a cache miss
    costs a quarter of what it would.
    """
    if domain_id is None:
        row = await pool.fetchrow(_REDIRECT + "domain_id IS NULL AND slug = $1", slug)
    else:
        row = await pool.fetchrow(_REDIRECT + "domain_id = $2 AND slug = $1", slug, domain_id)
    if row is None:
        return None
    return RedirectTarget(
        id=row["id"],
        url=row["url"],
        redirect_status=row["redirect_status"],
        expires_at=row["expires_at"],
        disabled=row["disabled"],
        password_hash=row["password_hash"],
        max_clicks=row["max_clicks"],
        expired_url=row["expired_url"],
        rules=tuple(json.loads(row["rules"])),
    )


async def take_click(pool: asyncpg.Pool, link_id: int) -> bool:
    """Spend one of a limited link's clicks; False when none is left.

    One conditional UPDATE: concurrent visits on any number of instances queue on the row's
    lock, and each sees the count its predecessors left, so the limit is never overshot.
    """
    row = await pool.fetchrow(
        """UPDATE links SET clicks_used = clicks_used + 1
            WHERE id = $1 AND clicks_used < max_clicks
           RETURNING clicks_used""",
        link_id,
    )
    return row is not None


async def select_clicks_left(pool: asyncpg.Pool, link_id: int) -> bool:
    """Whether a limited link has clicks left (for visits that do not spend one)."""
    return bool(
        await pool.fetchval(
            "SELECT clicks_used < max_clicks FROM links WHERE id = $1 AND max_clicks IS NOT NULL",
            link_id,
        )
    )


async def count_password_failures(
    db: Database, link_id: int, address_hash: str, window_seconds: int
) -> tuple[int, datetime | None]:
    """Wrong passwords for this link from this address within the window, and the oldest's time."""
    row = await fetch_row(
        db,
        """SELECT count(*) AS failures, min(at) AS oldest FROM link_password_failures
            WHERE link_id = :link_id AND address_hash = :address_hash
              AND at > now() - make_interval(secs => :window_seconds)""",
        {"link_id": link_id, "address_hash": address_hash, "window_seconds": window_seconds},
    )
    return row["failures"], row["oldest"]


async def insert_password_failure(
    db: Database, link_id: int, address_hash: str, window_seconds: int
) -> None:
    """Count one wrong password, and forget every failure older than the window."""
    await db.execute(
        """DELETE FROM link_password_failures
            WHERE at <= now() - make_interval(secs => :window_seconds)""",
        {"window_seconds": window_seconds},
    )
    await db.execute(
        """INSERT INTO link_password_failures (link_id, address_hash)
           VALUES (:link_id, :address_hash)""",
        {"link_id": link_id, "address_hash": address_hash},
    )
