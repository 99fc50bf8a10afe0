"""The org's audit log, newest first, for admins."""

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from ..auth import require_org_role
from ..cursors import invalid_cursor, open_cursor, seal_cursor
from ..database import get_db
from ..models.audit import AuditEntry, select_audit_page
from ..schemas import Query, Timestamp, problems

blueprint = Blueprint("audit", __name__)


class AuditQuery(Query):
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(None, max_length=200)


class Actor(BaseModel):
    id: str
    email: str


class AuditItem(BaseModel):
    id: str
    at: Timestamp
    actor: Actor | None
    token_id: str | None
    action: str
    target: str
    detail: dict


class AuditPage(BaseModel):
    items: list[AuditItem]
    next_cursor: str | None


def _item(entry: AuditEntry) -> AuditItem:
    actor = (
        Actor(id=entry.actor_id, email=entry.actor_email) if entry.actor_id is not None else None
    )
    return AuditItem(
        id=entry.public_id,
        at=entry.at,
        actor=actor,
        token_id=entry.token_id,
        action=entry.action,
        target=entry.target,
        detail=entry.detail,
    )


def _decode_cursor(org_id: str, cursor: str) -> int:
    """A next_cursor is the last entry's internal id, sealed (see kurz.cursors)."""
    position = open_cursor("audit", org_id, cursor)
    if len(position) != 1 or not isinstance(position[0], int):
        raise invalid_cursor()
    return position[0]


@blueprint.get("/api/v1/orgs/<org_id>/audit")
@validate_querystring(AuditQuery)
@validate_response(AuditPage, 200)
@problems(400, 401, 403, 404)
async def audit_log(org_id: str, query_args: AuditQuery) -> AuditPage:
    """Who changed what (admin): members, roles, invitations, tokens, the org, links.

    ``actor`` is the user, or null for an API token (see ``token_id``) or a deleted user. Pass
    ``next_cursor`` back as ``cursor`` for older entries; it is null on the last page.
    """
    caller = await require_org_role(org_id, "admin")
    before_id = (
        None if query_args.cursor is None else _decode_cursor(caller.org_id, query_args.cursor)
    )
    entries = await select_audit_page(get_db(), caller.org_id, query_args.limit + 1, before_id)
    page = entries[: query_args.limit]
    more = len(entries) > query_args.limit
    return AuditPage(
        items=[_item(entry) for entry in page],
        next_cursor=seal_cursor("audit", caller.org_id, [page[-1].id]) if more else None,
    )
