"""Branded domains: an org's own hostnames, their verification and re-check state."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from databases import Database
from databases.interfaces import Record

from ..database import fetch_row

_COLUMNS = """id, org_id, hostname, verification_value, root_url, not_found_url, created_at,
              verified_at, last_checked_at, last_check_result, check_failures, failing_since"""
EDITABLE = ("root_url", "not_found_url")


@dataclass
class Domain:
    id: int
    org_id: str
    hostname: str
    verification_value: str
    root_url: str | None
    not_found_url: str | None
    created_at: datetime
    verified_at: datetime | None
    last_checked_at: datetime | None
    last_check_result: str | None
    check_failures: int
    failing_since: datetime | None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


@dataclass(frozen=True)
class ServedDomain:
    """What the redirect path needs of a verified domain."""

    id: int
    root_url: str | None
    not_found_url: str | None


def _domain(row: Record) -> Domain:
    return Domain(**{**dict(row._mapping), "org_id": str(row["org_id"])})


async def insert_domain(
    db: Database,
    *,
    org_id: str,
    hostname: str,
    verification_value: str,
    root_url: str | None,
    not_found_url: str | None,
) -> Domain | None:
    """The new (unverified) domain, or None when the org has it already."""
    row = await db.fetch_one(
        f"""INSERT INTO domains (org_id, hostname, verification_value, root_url, not_found_url)
            VALUES (:org_id, :hostname, :verification_value, :root_url, :not_found_url)
            ON CONFLICT (org_id, hostname) DO NOTHING
            RETURNING {_COLUMNS}""",  # noqa: S608
        {
            "org_id": org_id,
            "hostname": hostname,
            "verification_value": verification_value,
            "root_url": root_url,
            "not_found_url": not_found_url,
        },
    )
    return None if row is None else _domain(row)


async def select_domains(db: Database, org_id: str) -> list[Domain]:
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM domains WHERE org_id = :org_id ORDER BY hostname",  # noqa: S608
        {"org_id": org_id},
    )
    return [_domain(row) for row in rows]


async def select_domain(
    db: Database, org_id: str, hostname: str, *, lock: bool = False
) -> Domain | None:
    row = await db.fetch_one(
        f"""SELECT {_COLUMNS} FROM domains WHERE org_id = :org_id AND hostname = :hostname
            {"FOR UPDATE" if lock else ""}""",  # noqa: S608
        {"org_id": org_id, "hostname": hostname},
    )
    return None if row is None else _domain(row)


async def verified_elsewhere(db: Database, org_id: str, hostname: str) -> bool:
    """Whether another org has verified this hostname."""
    return bool(
        await db.fetch_val(
            """SELECT EXISTS (SELECT 1 FROM domains WHERE hostname = :hostname
                               AND org_id <> :org_id AND verified_at IS NOT NULL)""",
            {"org_id": org_id, "hostname": hostname},
        )
    )


async def mark_verified(db: Database, domain_id: int, detail: str) -> Domain | None:
    """Verified now, its check state fresh; None when another org verified it meanwhile
    (the partial unique index decides; ON CONFLICT cannot, an UPDATE has none)."""
    try:
        async with db.transaction():
            row = await db.fetch_one(
                f"""UPDATE domains
                       SET verified_at = coalesce(verified_at, now()), last_checked_at = now(),
                           last_check_result = :detail, check_failures = 0,
                           failing_since = NULL
                     WHERE id = :id
                 RETURNING {_COLUMNS}""",  # noqa: S608
                {"id": domain_id, "detail": detail},
            )
    except asyncpg.UniqueViolationError:
        return None
    return None if row is None else _domain(row)


async def record_failed_verification(db: Database, domain_id: int, detail: str) -> None:
    """An admin's verify that DNS did not confirm (a verified domain stays verified: the
    re-checks decide that)."""
    await db.execute(
        """UPDATE domains SET last_checked_at = now(), last_check_result = :detail
            WHERE id = :id AND verified_at IS NULL""",
        {"id": domain_id, "detail": detail},
    )


async def update_domain(db: Database, domain_id: int, changes: dict[str, Any]) -> Domain:
    columns = [column for column in EDITABLE if column in changes]
    assignments = ", ".join(f"{column} = :{column}" for column in columns)
    row = await fetch_row(
        db,
        f"UPDATE domains SET {assignments} WHERE id = :id RETURNING {_COLUMNS}",  # noqa: S608
        {"id": domain_id, **{column: changes[column] for column in columns}},
    )
    return _domain(row)


async def domain_in_use(db: Database, domain_id: int) -> bool:
    return bool(
        await db.fetch_val(
            "SELECT EXISTS (SELECT 1 FROM links WHERE domain_id = :id)", {"id": domain_id}
        )
    )


async def delete_domain(db: Database, domain_id: int) -> None:
    await db.execute("DELETE FROM domains WHERE id = :id", {"id": domain_id})


async def select_verified_domain_id(db: Database, org_id: str, hostname: str) -> int | None:
    """The id of the org's domain ``hostname`` if it is verified (new links go only there)."""
    domain_id: int | None = await db.fetch_val(
        """SELECT id FROM domains
            WHERE org_id = :org_id AND hostname = :hostname AND verified_at IS NOT NULL""",
        {"org_id": org_id, "hostname": hostname},
    )
    return domain_id


async def is_verified_hostname(db: Database, hostname: str) -> bool:
    return bool(
        await db.fetch_val(
            """SELECT EXISTS (SELECT 1 FROM domains
                               WHERE hostname = :hostname AND verified_at IS NOT NULL)""",
            {"hostname": hostname},
        )
    )


async def select_served_domains(pool: asyncpg.Pool) -> dict[str, ServedDomain]:
    """Every verified hostname and what its redirects need (for the redirect caches)."""
    rows = await pool.fetch("""SELECT hostname, id, root_url, not_found_url FROM domains
            WHERE verified_at IS NOT NULL""")
    return {
        row["hostname"]: ServedDomain(row["id"], row["root_url"], row["not_found_url"])
        for row in rows
    }


async def claim_due_domain(db: Database, every: timedelta) -> Domain | None:
    """A verified domain due for its re-check, claimed for a few minutes so that no other
    instance checks it meanwhile (a crashed checker's claim simply runs out)."""
    row = await db.fetch_one(
        f"""UPDATE domains SET check_claimed_until = now() + interval '5 minutes'
             WHERE id = (
                 SELECT id FROM domains
                  WHERE verified_at IS NOT NULL
                    AND coalesce(last_checked_at, verified_at)
                        <= now() - CAST(:every AS INTERVAL)
                    AND coalesce(check_claimed_until, '-infinity') < now()
                  ORDER BY coalesce(last_checked_at, verified_at)
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED)
         RETURNING {_COLUMNS}""",  # noqa: S608
        {"every": every},
    )
    return None if row is None else _domain(row)


async def record_check(
    db: Database,
    domain_id: int,
    *,
    ok: bool,
    detail: str,
    failures_to_unverify: int,
    failing_for: timedelta,
) -> bool:
    """Store a re-check's result; returns True when it un-verified the domain."""
    unverified = await db.fetch_val(
        """UPDATE domains
              SET last_checked_at = now(), last_check_result = :detail,
                  check_claimed_until = NULL,
                  check_failures = CASE WHEN :ok THEN 0 ELSE check_failures + 1 END,
                  failing_since = CASE WHEN :ok THEN NULL
                                       ELSE coalesce(failing_since, now()) END,
                  verified_at = CASE
                      WHEN NOT :ok AND check_failures + 1 >= :failures
                           AND coalesce(failing_since, now())
                               <= now() - CAST(:failing_for AS INTERVAL)
                      THEN NULL ELSE verified_at END
            WHERE id = :id
        RETURNING verified_at IS NULL""",
        {
            "id": domain_id,
            "ok": ok,
            "detail": detail,
            "failures": failures_to_unverify,
            "failing_for": failing_for,
        },
    )
    return bool(unverified)
