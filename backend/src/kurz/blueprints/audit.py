"""The org's audit log, newest first, for admins: a page at a time, or all of it as CSV."""

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, Field, RootModel
from quart import Blueprint, Response
from quart_schema import document_response, validate_querystring, validate_response

from ..auth import require_org_role
from ..cursors import open_id_cursor, seal_cursor
from ..models.audit import AuditEntry, AuditFilter, select_audit_page
from ..schemas import ID_PATTERN, NO_NUL, Cursor, Query, Timestamp, problems
from ..services import get_db

blueprint = Blueprint("audit", __name__)

AUDIT = "/api/v1/orgs/<org_id>/audit"
# The export reads the log in pages of this many entries, streaming each as it comes.
EXPORT_PAGE = 1000
CSV_COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_email",
    "token_id",
    "token_name",
    "action",
    "target",
    "detail",
)


class AuditFilters(Query):
    actor: str | None = Field(
        None,
        pattern=f"^{ID_PATTERN}$",
        description="A user's or an API token's id: what they did.",
    )
    action: str | None = Field(
        None,
        max_length=64,
        pattern=NO_NUL,
        description="An action (`link.update`), or a kind of action (`link`, `member`).",
    )
    link: str | None = Field(
        None, max_length=64, pattern=NO_NUL, description="A link's slug: its history."
    )


class AuditQuery(AuditFilters):
    limit: int = Field(50, ge=1, le=100)
    cursor: Cursor | None = None


class Actor(BaseModel):
    id: str
    email: str


class AuditItem(BaseModel):
    id: str
    at: Timestamp
    actor: Actor | None
    token_id: str | None
    token_name: str | None = Field(description="The API token's name when a token acted.")
    action: str
    target: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditItem]
    next_cursor: str | None


class AuditCsv(RootModel[str]):
    """The matching entries as CSV (text/csv), newest first, with a header row."""

    content_types: ClassVar = ("text/csv",)


def _item(entry: AuditEntry) -> AuditItem:
    actor = (
        Actor(id=entry.actor_id, email=entry.actor_email)
        if entry.actor_id is not None and entry.actor_email is not None
        else None
    )
    return AuditItem(
        id=entry.public_id,
        at=entry.at,
        actor=actor,
        token_id=entry.token_id,
        token_name=entry.token_name,
        action=entry.action,
        target=entry.target,
        detail=entry.detail,
    )


def _filter(query: AuditFilters) -> AuditFilter:
    actor = query.actor and str(UUID(query.actor))
    return AuditFilter(actor=actor, action=query.action, link=query.link)


@blueprint.get(AUDIT)
@validate_querystring(AuditQuery)
@validate_response(AuditPage, 200)
@problems(400, 401, 403, 404)
async def audit_log(org_id: str, query_args: AuditQuery) -> AuditPage:
    """Who changed what (admin): members, roles, invitations, tokens, the org, links.

    ``actor`` is the user, or null for an API token (see ``token_id`` and ``token_name``) or a
    deleted user. Filters: ``actor`` (a user's or token's id), ``action`` (`link.update`, or a
    kind such as `link`) and ``link`` (a slug). Pass ``next_cursor`` back as ``cursor`` for
    older entries; it is null on the last page.
    """
    caller = await require_org_role(org_id, "admin")
    cursor = query_args.cursor
    before_id = None if cursor is None else open_id_cursor("audit", caller.org_id, cursor)
    entries = await select_audit_page(
        get_db(), caller.org_id, query_args.limit + 1, before_id, _filter(query_args)
    )
    page = entries[: query_args.limit]
    more = len(entries) > query_args.limit
    return AuditPage(
        items=[_item(entry) for entry in page],
        next_cursor=seal_cursor("audit", caller.org_id, [page[-1].id]) if more else None,
    )


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: never run as a formula (``=``, ``+``, ...)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_row(values: Iterable[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([_cell(value) for value in values])
    return out.getvalue()


@blueprint.get(AUDIT + "/export.csv")
@validate_querystring(AuditFilters)
@document_response(AuditCsv)
@problems(400, 401, 403, 404)
async def export_audit_log(org_id: str, query_args: AuditFilters) -> Response:
    """The whole audit log (admin) as CSV, newest first, with the same filters as the list."""
    caller = await require_org_role(org_id, "admin")
    where = _filter(query_args)
    db = get_db()

    async def rows() -> AsyncIterator[str]:
        yield _csv_row(CSV_COLUMNS)
        before_id = None
        while True:
            entries = await select_audit_page(db, caller.org_id, EXPORT_PAGE, before_id, where)
            for entry in entries:
                item = _item(entry).model_dump(mode="json")
                yield _csv_row(
                    (
                        item["id"],
                        item["at"],
                        entry.actor_id,
                        entry.actor_email,
                        entry.token_id,
                        entry.token_name,
                        entry.action,
                        entry.target,
                        json.dumps(entry.detail, sort_keys=True),
                    )
                )
            if len(entries) < EXPORT_PAGE:
                return
            before_id = entries[-1].id

    return Response(
        rows(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
