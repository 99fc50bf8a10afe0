"""Webhooks: endpoints, the event outbox and deliveries (see db/11.py)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from databases import Database
from databases.core import Connection
from databases.interfaces import Record

from ..database import fetch_row

DELIVERY_JOB = "webhook.delivery"
# Statements below splice in only these constant fragments (hence "noqa: S608"); values always
# go as parameters.
_WEBHOOK = """id, org_id, url, events, description, enabled, created_at, disabled_reason"""
_DELIVERY = """d.id, d.event_id, e.type, d.status, d.attempts, d.response_status,
               d.response_body, d.duration_ms, d.error, d.last_attempt_at, d.next_attempt_at,
               d.created_at"""
# The fields PATCH may change (column names; values always go in as parameters).
EDITABLE = ("url", "events", "description", "enabled")
# One delivery, with its job, for each target (a CTE of webhook ids) and the event (a CTE).
# Deliveries take their ids first so that each job can name its delivery and each delivery
# its job.
_QUEUE = f"""planned AS (
        SELECT nextval(pg_get_serial_sequence('webhook_deliveries', 'id')) AS delivery_id,
               targets.id AS webhook_id, event.id AS event_id
          FROM targets JOIN event ON event.org_id = targets.org_id
    ), queued AS (
        INSERT INTO jobs (kind, payload, lane)
        SELECT '{DELIVERY_JOB}', jsonb_build_object('delivery_id', delivery_id),
               CAST(webhook_id AS TEXT)
          FROM planned
        RETURNING id, CAST(payload->>'delivery_id' AS BIGINT) AS delivery_id
    )
    INSERT INTO webhook_deliveries (id, webhook_id, event_id, job_id)
    SELECT planned.delivery_id, planned.webhook_id, planned.event_id, queued.id
      FROM planned JOIN queued USING (delivery_id)"""  # noqa: S608
ISO = """'YYYY-MM-DD"T"HH24:MI:SS"Z"'"""


@dataclass
class Webhook:
    id: str
    org_id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    created_at: datetime
    disabled_reason: str | None


@dataclass
class Delivery:
    id: str
    event_id: str
    type: str
    status: str
    attempts: int
    response_status: int | None
    response_body: str | None
    duration_ms: int | None
    error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime


@dataclass
class Outgoing:
    """What one attempt of a delivery needs."""

    delivery_id: int
    status: str
    webhook_id: str
    url: str
    enabled: bool
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    event_id: str
    type: str
    payload: str


def _webhook(row: Record) -> Webhook:
    return Webhook(
        id=str(row["id"]),
        org_id=str(row["org_id"]),
        url=row["url"],
        events=list(row["events"]),
        description=row["description"],
        enabled=row["enabled"],
        created_at=row["created_at"],
        disabled_reason=row["disabled_reason"],
    )


def _delivery(row: Record) -> Delivery:
    return Delivery(
        **{**dict(row._mapping), "id": str(row["id"]), "event_id": str(row["event_id"])}
    )


async def insert_webhook(
    db: Database, org_id: str, url: str, events: list[str], description: str | None, secret: str
) -> Webhook:
    row = await fetch_row(
        db,
        f"""INSERT INTO webhooks (org_id, url, events, description, secret)
            VALUES (:org_id, :url, :events, :description, :secret)
            RETURNING {_WEBHOOK}""",  # noqa: S608
        {
            "org_id": org_id,
            "url": url,
            "events": events,
            "description": description,
            "secret": secret,
        },
    )
    return _webhook(row)


async def select_webhooks(db: Database, org_id: str) -> list[Webhook]:
    rows = await db.fetch_all(
        f"""SELECT {_WEBHOOK} FROM webhooks WHERE org_id = :org_id
             ORDER BY created_at DESC, id""",  # noqa: S608
        {"org_id": org_id},
    )
    return [_webhook(row) for row in rows]


async def select_webhook(
    db: Database, org_id: str, webhook_id: str, *, lock: bool = False
) -> Webhook | None:
    row = await db.fetch_one(
        f"""SELECT {_WEBHOOK} FROM webhooks WHERE org_id = :org_id AND id = :webhook_id
             {"FOR UPDATE" if lock else ""}""",  # noqa: S608
        {"org_id": org_id, "webhook_id": webhook_id},
    )
    return None if row is None else _webhook(row)


async def update_webhook(
    db: Database, org_id: str, webhook_id: str, changes: dict[str, Any]
) -> Webhook:
    """Apply ``changes`` (keys from EDITABLE); enabling an endpoint forgets why it was disabled
    and its past failures."""
    columns = [column for column in EDITABLE if column in changes]
    assignments = ", ".join(f"{column} = :{column}" for column in columns)
    if changes.get("enabled") is not None:
        assignments += ", disabled_reason = NULL, failing_since = NULL"
    row = await fetch_row(
        db,
        f"""UPDATE webhooks SET {assignments}
             WHERE org_id = :org_id AND id = :webhook_id
            RETURNING {_WEBHOOK}""",  # noqa: S608
        {"org_id": org_id, "webhook_id": webhook_id, **{c: changes[c] for c in columns}},
    )
    return _webhook(row)


async def delete_webhook(db: Database, org_id: str, webhook_id: str) -> bool:
    """The endpoint and its deliveries. The deliveries go first: an attempt being recorded
    locks its delivery, then its endpoint, and taking them in the other order could deadlock."""
    await db.execute(
        """DELETE FROM webhook_deliveries
            WHERE webhook_id = (SELECT id FROM webhooks
                                 WHERE org_id = :org_id AND id = :webhook_id)""",
        {"org_id": org_id, "webhook_id": webhook_id},
    )
    deleted = await db.fetch_val(
        "DELETE FROM webhooks WHERE org_id = :org_id AND id = :webhook_id RETURNING id",
        {"org_id": org_id, "webhook_id": webhook_id},
    )
    return deleted is not None


async def update_secret(
    db: Database, org_id: str, webhook_id: str, secret: str, previous_until: datetime
) -> Webhook:
    """The new secret signs from now on; the current one goes on signing until
    ``previous_until`` (the caller has locked the webhook)."""
    row = await fetch_row(
        db,
        f"""UPDATE webhooks SET previous_secret = secret, previous_secret_until = :until,
                               secret = :secret
             WHERE org_id = :org_id AND id = :webhook_id
            RETURNING {_WEBHOOK}""",  # noqa: S608
        {"org_id": org_id, "webhook_id": webhook_id, "secret": secret, "until": previous_until},
    )
    return _webhook(row)


async def insert_event(
    connection: Connection | Database,
    org_id: str,
    type: str,
    payloads: list[str],
    webhook_id: str | None = None,
) -> int:
    """Store an event per payload and queue their deliveries: to ``webhook_id`` alone (a
    ping), or to the org's enabled endpoints subscribed to ``type``. Nothing is stored when
    none is; returns how many deliveries were queued."""
    rows = await connection.fetch_all(
        f"""WITH targets AS (
                SELECT id, org_id FROM webhooks
                 WHERE org_id = :org_id
                   AND CASE WHEN CAST(:webhook_id AS UUID) IS NULL
                            THEN enabled AND :type = ANY (events)
                            ELSE id = CAST(:webhook_id AS UUID) END
            ), event AS (
                INSERT INTO webhook_events (org_id, type, payload)
                SELECT :org_id, :type, CAST(payload AS JSON)
                  FROM unnest(CAST(:payloads AS TEXT[])) AS payload
                 WHERE EXISTS (SELECT FROM targets)
                RETURNING id, org_id
            ), {_QUEUE}
            RETURNING id""",  # noqa: S608
        {"org_id": org_id, "type": type, "payloads": payloads, "webhook_id": webhook_id},
    )
    return len(rows)


# One link.clicked event per human click of the batch just written ($1) whose link's org has
# an endpoint for it. Positional parameters: it runs on asyncpg, in the batch's transaction.
INSERT_CLICK_EVENTS = f"""WITH targets AS (
        SELECT id, org_id FROM webhooks WHERE enabled AND 'link.clicked' = ANY (events)
    ), clicked AS (
        SELECT links.org_id, links.slug, domains.hostname AS domain, clicks.at, clicks.country,
               clicks.browser, clicks.os, clicks.device, clicks.referrer
          FROM clicks JOIN links ON links.id = clicks.link_id
               LEFT JOIN domains ON domains.id = links.domain_id
         WHERE clicks.batch = $1 AND NOT clicks.bot
           AND links.org_id IN (SELECT org_id FROM targets)
    ), event AS (
        INSERT INTO webhook_events (org_id, type, payload)
        SELECT org_id, 'link.clicked', json_build_object(
                   'type', 'link.clicked',
                   'timestamp', to_char(now() AT TIME ZONE 'UTC', {ISO}),
                   'data', json_build_object(
                       'link', json_build_object('slug', slug, 'domain', domain),
                       'at', to_char(at AT TIME ZONE 'UTC', {ISO}),
                       'country', country, 'device', device, 'browser', browser, 'os', os,
                       'referrer', referrer))
          FROM clicked
        RETURNING id, org_id
    ), {_QUEUE}"""  # noqa: S608


async def insert_click_events(raw: asyncpg.Connection) -> None:
    """After a batch of clicks is written, in its transaction: its events, when any endpoint
    wants clicks (one indexed look otherwise)."""
    wanted = await raw.fetchval(
        "SELECT EXISTS (SELECT FROM webhooks WHERE enabled AND 'link.clicked' = ANY (events))"
    )
    if wanted:
        await raw.execute(
            INSERT_CLICK_EVENTS, await raw.fetchval("SELECT currval('click_batches')")
        )


async def select_deliveries_page(
    db: Database, org_id: str, webhook_id: str, *, limit: int, before: int | None
) -> list[Delivery]:
    """Up to ``limit`` deliveries of the endpoint, newest first, older than ``before``."""
    rows = await db.fetch_all(
        f"""SELECT {_DELIVERY} FROM webhook_deliveries AS d
              JOIN webhooks AS w ON w.id = d.webhook_id
              JOIN webhook_events AS e ON e.id = d.event_id
             WHERE w.org_id = :org_id AND d.webhook_id = :webhook_id
               AND (CAST(:before AS BIGINT) IS NULL OR d.id < :before)
             ORDER BY d.id DESC LIMIT :limit""",  # noqa: S608
        {"org_id": org_id, "webhook_id": webhook_id, "before": before, "limit": limit},
    )
    return [_delivery(row) for row in rows]


async def requeue_delivery(
    db: Database, org_id: str, webhook_id: str, delivery_id: int
) -> Delivery | None:
    """Send the delivery again now, once (a manual retry): its waiting job, if any, is
    replaced by one that runs at once."""
    job_id = await db.fetch_val(
        """SELECT d.job_id FROM webhook_deliveries AS d JOIN webhooks AS w ON w.id = d.webhook_id
            WHERE w.org_id = :org_id AND d.webhook_id = :webhook_id AND d.id = :delivery_id
              FOR UPDATE OF d""",
        {"org_id": org_id, "webhook_id": webhook_id, "delivery_id": delivery_id},
    )
    if job_id is not None:
        await db.execute("DELETE FROM jobs WHERE id = :job_id", {"job_id": job_id})
    row = await db.fetch_one(
        f"""WITH queued AS (
                INSERT INTO jobs (kind, payload, lane)
                VALUES ('{DELIVERY_JOB}',
                        jsonb_build_object('delivery_id', CAST(:delivery_id AS BIGINT),
                                           'once', true),
                        CAST(CAST(:webhook_id AS UUID) AS TEXT))
                RETURNING id
            ), d AS (
                UPDATE webhook_deliveries AS d
                   SET status = 'pending', next_attempt_at = now(),
                       job_id = (SELECT id FROM queued)
                  FROM webhooks AS w
                 WHERE w.id = d.webhook_id AND w.org_id = :org_id
                   AND d.webhook_id = :webhook_id AND d.id = :delivery_id
                RETURNING d.*
            )
            SELECT {_DELIVERY} FROM d JOIN webhook_events AS e ON e.id = d.event_id""",  # noqa: S608
        {"org_id": org_id, "webhook_id": webhook_id, "delivery_id": delivery_id},
    )
    return None if row is None else _delivery(row)


# The delivery path's statements run on asyncpg (``raw_connection``), hence positional
# parameters.
SELECT_OUTGOING = """SELECT d.id AS delivery_id, d.status, CAST(w.id AS TEXT) AS webhook_id, w.url,
           w.enabled, w.secret, w.previous_secret, w.previous_secret_until,
           CAST(e.id AS TEXT) AS event_id, e.type, CAST(e.payload AS TEXT) AS payload
      FROM webhook_deliveries AS d
      JOIN webhooks AS w ON w.id = d.webhook_id
      JOIN webhook_events AS e ON e.id = d.event_id
     WHERE d.id = $1"""
# Delivery $1 attempted at $2: its status $3, answer ($4 status, $5 body), $6 ms, error $7 (NULL
# on success), next attempt at $8. A success ends its enabled endpoint's run of failures; a
# failure starts one, or disables the endpoint once the run has lasted $9 seconds (reason $10).
UPDATE_ATTEMPT = """WITH attempt AS (
        UPDATE webhook_deliveries
           SET attempts = attempts + 1, last_attempt_at = $2, status = $3,
               response_status = $4, response_body = $5, duration_ms = $6, error = $7,
               next_attempt_at = $8
         WHERE id = $1
        RETURNING webhook_id
    ), run AS (
        SELECT id, CAST($7 AS TEXT) IS NULL AS ok, coalesce(failing_since, $2) AS since,
               coalesce(failing_since, $2) <= $2 - make_interval(secs => $9) AS too_long
          FROM webhooks WHERE id = (SELECT webhook_id FROM attempt) AND enabled
    )
    UPDATE webhooks AS w
       SET failing_since = CASE WHEN run.ok THEN NULL ELSE run.since END,
           enabled = run.ok OR NOT run.too_long,
           disabled_reason = CASE WHEN run.ok OR NOT run.too_long THEN NULL ELSE $10 END
      FROM run
     WHERE w.id = run.id AND (NOT run.ok OR w.failing_since IS NOT NULL)"""


async def select_outgoing(raw: asyncpg.Connection, delivery_id: int) -> Outgoing | None:
    row = await raw.fetchrow(SELECT_OUTGOING, delivery_id)
    return None if row is None else Outgoing(**dict(row))


async def update_attempt(
    raw: asyncpg.Connection,
    delivery_id: int,
    *,
    at: datetime,
    status: str,
    response_status: int | None,
    response_body: str | None,
    duration_ms: int,
    error: str | None,
    next_attempt_at: datetime | None,
    disable_after: float,
    disabled_reason: str,
) -> None:
    """Record an attempt, and what it says about its endpoint (see UPDATE_ATTEMPT)."""
    await raw.execute(
        UPDATE_ATTEMPT,
        delivery_id,
        at,
        status,
        response_status,
        response_body,
        duration_ms,
        error,
        next_attempt_at,
        disable_after,
        disabled_reason,
    )


async def delete_expired_deliveries(
    db: Database, delivered_before: datetime, failed_before: datetime
) -> int:
    """Retention: delivered deliveries older than ``delivered_before``, failed ones older than
    ``failed_before``, then the events left without deliveries."""
    deleted: int = await db.fetch_val(
        """WITH gone AS (
                DELETE FROM webhook_deliveries
                 WHERE (status = 'delivered' AND created_at < :delivered_before)
                    OR (status = 'failed' AND created_at < :failed_before)
                RETURNING 1
            )
            SELECT count(*) FROM gone""",
        {"delivered_before": delivered_before, "failed_before": failed_before},
    )
    await db.execute(
        """DELETE FROM webhook_events AS e WHERE created_at < :before
              AND NOT EXISTS (SELECT FROM webhook_deliveries AS d WHERE d.event_id = e.id)""",
        {"before": delivered_before},
    )
    return deleted
