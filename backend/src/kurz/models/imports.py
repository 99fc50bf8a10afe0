"""CSV imports: the file and its progress, and the lookups an import makes per row."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from databases import Database
from databases.interfaces import Record

from ..database import fetch_row


@dataclass
class Import:
    id: str
    org_id: str
    created_by: str | None
    created_by_token: str | None
    status: str
    total: int
    next_row: int
    created: int
    skipped: int
    failed: int
    errors: list[dict[str, Any]]
    created_at: datetime
    finished_at: datetime | None


_COLUMNS = """id, org_id, created_by, created_by_token, status, total, next_row, created, skipped,
              failed, errors, created_at, finished_at"""


def _import(row: Record) -> Import:
    values = dict(row._mapping)
    for name in ("id", "org_id", "created_by", "created_by_token"):
        values[name] = None if values[name] is None else str(values[name])
    values["errors"] = json.loads(values["errors"])
    return Import(**values)


async def insert_import(
    db: Database,
    *,
    org_id: str,
    created_by: str | None,
    created_by_token: str | None,
    body: bytes,
    total: int,
) -> Import:
    row = await fetch_row(
        db,
        f"""INSERT INTO imports (org_id, created_by, created_by_token, body, total)
            VALUES (:org_id, :created_by, :created_by_token, :body, :total)
            RETURNING {_COLUMNS}""",  # noqa: S608
        {
            "org_id": org_id,
            "created_by": created_by,
            "created_by_token": created_by_token,
            "body": body,
            "total": total,
        },
    )
    return _import(row)


async def select_import(
    db: Database, org_id: str | None, import_id: str, *, lock: bool = False
) -> Import | None:
    """The import (of the org, unless ``org_id`` is None: the job's own look-up)."""
    row = await db.fetch_one(
        f"""SELECT {_COLUMNS} FROM imports
             WHERE id = CAST(:id AS UUID) AND (CAST(:org_id AS UUID) IS NULL OR org_id = :org_id)
             {"FOR UPDATE" if lock else ""}""",  # noqa: S608
        {"id": import_id, "org_id": org_id},
    )
    return None if row is None else _import(row)


async def select_import_body(db: Database, import_id: str) -> bytes | None:
    body: bytes | None = await db.fetch_val(
        "SELECT body FROM imports WHERE id = CAST(:id AS UUID)", {"id": import_id}
    )
    return body


async def update_import_progress(
    db: Database,
    import_id: str,
    *,
    next_row: int,
    created: int,
    skipped: int,
    failed: int,
    errors: list[dict[str, Any]],
) -> None:
    """Count a chunk of rows as applied (in the transaction that applied them)."""
    await db.execute(
        """UPDATE imports SET status = 'running', next_row = :next_row,
                  created = created + :created, skipped = skipped + :skipped,
                  failed = failed + :failed, errors = errors || CAST(:errors AS JSONB)
            WHERE id = CAST(:id AS UUID)""",
        {
            "id": import_id,
            "next_row": next_row,
            "created": created,
            "skipped": skipped,
            "failed": failed,
            "errors": json.dumps(errors),
        },
    )


async def finish_import(db: Database, import_id: str, status: str) -> None:
    """Done (or failed for good); the file is no longer needed."""
    await db.execute(
        """UPDATE imports SET status = :status, finished_at = now(), body = NULL
            WHERE id = CAST(:id AS UUID)""",
        {"id": import_id, "status": status},
    )


async def select_slug_urls(
    db: Database, org_id: str, domain_id: int | None, slugs: list[str]
) -> list[tuple[str, str]]:
    """(slug, URL) of the org's links with these slugs on the domain (None: the default one)."""
    values: dict[str, Any] = {"org_id": org_id, "slugs": slugs}
    on_domain = "domain_id IS NULL"
    if domain_id is not None:
        on_domain, values["domain_id"] = "domain_id = :domain_id", domain_id
    rows = await db.fetch_all(
        f"""SELECT slug, url FROM links
             WHERE org_id = :org_id AND {on_domain} AND slug = ANY(:slugs)""",  # noqa: S608
        values,
    )
    return [(row["slug"], row["url"]) for row in rows]


async def select_url_domains(
    db: Database, org_id: str, urls: list[str]
) -> set[tuple[int | None, str]]:
    """(domain_id, URL) of the org's links to any of these URLs."""
    rows = await db.fetch_all(
        """SELECT domain_id, url FROM links
            WHERE org_id = :org_id AND url = ANY(:urls)
              AND md5(url) = ANY(ARRAY(SELECT md5(url)
                                         FROM unnest(CAST(:urls AS TEXT[])) AS url))""",
        {"org_id": org_id, "urls": urls},
    )
    return {(row["domain_id"], row["url"]) for row in rows}
