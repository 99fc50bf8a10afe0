"""Webhook endpoints of an org (admins): create, list, edit, delete, test, rotate the secret,
and each endpoint's deliveries, which can be retried by hand. See kurz/webhooks.py for how
events are stored, signed and sent."""

import base64
import binascii
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints
from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from ..audit import record_audit
from ..auth import Caller, require_org_role
from ..errors import APIError, validation_error
from ..models.webhooks import (
    Webhook,
    delete_webhook,
    insert_event,
    insert_webhook,
    requeue_delivery,
    select_deliveries_page,
    select_webhook,
    select_webhooks,
    update_secret,
    update_webhook,
)
from ..schemas import Answer, Cursor, Input, Query, Timestamp, WebUrl, no_content, problems
from ..services import current_services, get_db, get_settings
from ..webhooks import ROTATION_OVERLAP, WebhookSender, check_url, new_secret, payload

blueprint = Blueprint("webhooks", __name__)

WEBHOOKS = "/api/v1/orgs/<org_id>/webhooks"
WEBHOOK = WEBHOOKS + "/<webhook_id>"
# ``ping`` may be listed too, though a ping goes to the endpoint tested whatever it lists.
EventType = Literal[
    "link.created",
    "link.updated",
    "link.deleted",
    "link.clicked",
    "member.added",
    "member.removed",
    "ping",
]
Events = Annotated[list[EventType], Field(min_length=1, max_length=20)]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^[^\x00]*$")
]


class WebhookCreate(Input):
    url: WebUrl = Field(description="https (http too in development), at most 2048 characters.")
    events: Events
    description: Description | None = None


class WebhookUpdate(Input):
    """Only the fields sent change; enabling an endpoint clears its ``disabled_reason``."""

    # None as the default means "unchanged"; an explicit null is refused (not nullable).
    url: WebUrl = None  # type: ignore[assignment]
    events: Events = None  # type: ignore[assignment]
    enabled: bool = None  # type: ignore[assignment]
    description: Description | None = None


class WebhookOut(Answer):
    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    created_at: Timestamp
    disabled_reason: str | None = Field(
        description="Why Kurz disabled the endpoint (after failing for days); null otherwise."
    )


class NewWebhook(WebhookOut):
    """The new endpoint; ``secret`` (``whsec_...``) verifies its signatures and is shown once."""

    secret: str


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(Answer):
    id: str
    event_id: str
    type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_status: int | None
    response_body: str | None = Field(description="The start (1 KiB) of the last answer.")
    duration_ms: int | None = Field(description="How long the last attempt took.")
    error: str | None = Field(description="Why the last attempt failed.")
    last_attempt_at: Timestamp | None
    next_attempt_at: Timestamp | None
    created_at: Timestamp


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: end.")


class DeliveryQuery(Query):
    limit: int = Field(50, ge=1, le=100)
    cursor: Cursor | None = None


class Accepted(BaseModel):
    """Queued; the outcome shows in the endpoint's deliveries."""

    status: Literal["queued"] = "queued"


@blueprint.post(WEBHOOKS)
@validate_request(WebhookCreate)
@validate_response(NewWebhook, 201)
@problems(400, 401, 403, 404)
async def create_webhook(
    org_id: str, data: WebhookCreate
) -> tuple[NewWebhook, int, dict[str, Any]]:
    """Add an endpoint (admin). Store the ``secret`` now: it cannot be shown again."""
    caller = await require_org_role(org_id, "admin")
    url = await check_url(data.url, get_settings())
    secret = new_secret()
    db = get_db()
    async with db.transaction():
        webhook = await insert_webhook(
            db,
            caller.org_id,
            url,
            list(dict.fromkeys(data.events)),
            data.description or None,
            _sender().seal(secret),
        )
        await record_audit(caller, "webhook.create", webhook.id, {"url": url})
    body = NewWebhook(**WebhookOut.model_validate(webhook).model_dump(), secret=secret)
    return body, 201, {"Cache-Control": "no-store"}


@blueprint.get(WEBHOOKS)
@validate_response(WebhookList)
@problems(401, 403, 404)
async def list_webhooks(org_id: str) -> WebhookList:
    """The org's endpoints, newest first, without their secrets (admin)."""
    caller = await require_org_role(org_id, "admin")
    return WebhookList(
        items=[
            WebhookOut.model_validate(w) for w in await select_webhooks(get_db(), caller.org_id)
        ]
    )


@blueprint.patch(WEBHOOK)
@validate_request(WebhookUpdate)
@validate_response(WebhookOut)
@problems(400, 401, 403, 404)
async def edit_webhook(org_id: str, webhook_id: str, data: WebhookUpdate) -> WebhookOut:
    """Change an endpoint (admin). ``enabled: true`` re-enables one Kurz disabled."""
    caller = await require_org_role(org_id, "admin")
    changes = {field: getattr(data, field) for field in data.model_fields_set}
    if "url" in changes:
        changes["url"] = await check_url(changes["url"], get_settings())
    if "events" in changes:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    if "description" in changes:
        changes["description"] = changes["description"] or None
    db = get_db()
    async with db.transaction():
        webhook = await _existing(caller, webhook_id, lock=True)
        if not changes:
            return WebhookOut.model_validate(webhook)
        updated = await update_webhook(db, caller.org_id, webhook.id, changes)
        await record_audit(caller, "webhook.update", webhook.id, {"changed": sorted(changes)})
    return WebhookOut.model_validate(updated)


@blueprint.delete(WEBHOOK)
@no_content
@problems(401, 403, 404)
async def remove_webhook(org_id: str, webhook_id: str) -> tuple[str, int]:
    """Delete an endpoint and its deliveries (admin); nothing more is sent to it."""
    caller = await require_org_role(org_id, "admin")
    db = get_db()
    async with db.transaction():
        webhook = await _existing(caller, webhook_id)
        if not await delete_webhook(db, caller.org_id, webhook.id):  # deleted meanwhile
            raise _webhook_not_found()
        await record_audit(caller, "webhook.delete", webhook.id, {"url": webhook.url})
    return "", 204


@blueprint.post(WEBHOOK + "/test")
@validate_response(Accepted, 202)
@problems(401, 403, 404)
async def test_webhook(org_id: str, webhook_id: str) -> tuple[Accepted, int]:
    """Send a ``ping`` event to the endpoint (admin), even if disabled: a way to check it
    before enabling it again. Its delivery shows in the endpoint's deliveries."""
    caller = await require_org_role(org_id, "admin")
    db = get_db()
    async with db.transaction():
        webhook = await _existing(caller, webhook_id)
        ping = payload("ping", {"webhook_id": webhook.id, "url": webhook.url})
        await insert_event(db, caller.org_id, "ping", [ping], webhook_id=webhook.id)
    current_services().jobs.wake()
    return Accepted(), 202


@blueprint.post(WEBHOOK + "/rotate-secret")
@validate_response(NewWebhook)
@problems(401, 403, 404)
async def rotate_secret(org_id: str, webhook_id: str) -> tuple[NewWebhook, int, dict[str, Any]]:
    """A new signing secret, shown this once (admin). For 24 hours the old one signs too (the
    ``webhook-signature`` header then carries both signatures), time to deploy the new one."""
    caller = await require_org_role(org_id, "admin")
    secret = new_secret()
    sender = _sender()
    db = get_db()
    async with db.transaction():
        webhook = await _existing(caller, webhook_id, lock=True)
        webhook = await update_secret(
            db, caller.org_id, webhook.id, sender.seal(secret), sender.now() + ROTATION_OVERLAP
        )
        await record_audit(caller, "webhook.rotate_secret", webhook.id, {"url": webhook.url})
    body = NewWebhook(**WebhookOut.model_validate(webhook).model_dump(), secret=secret)
    return body, 200, {"Cache-Control": "no-store"}


@blueprint.get(WEBHOOK + "/deliveries")
@validate_querystring(DeliveryQuery)
@validate_response(DeliveryPage)
@problems(400, 401, 403, 404)
async def list_deliveries(org_id: str, webhook_id: str, query_args: DeliveryQuery) -> DeliveryPage:
    """The endpoint's deliveries, newest first, a page at a time (admin)."""
    caller = await require_org_role(org_id, "admin")
    webhook = await _existing(caller, webhook_id)
    deliveries = await select_deliveries_page(
        get_db(),
        caller.org_id,
        webhook.id,
        limit=query_args.limit + 1,  # one more tells whether there is a next page
        before=None if query_args.cursor is None else _decode_cursor(query_args.cursor),
    )
    more = len(deliveries) > query_args.limit
    deliveries = deliveries[: query_args.limit]
    return DeliveryPage(
        items=[DeliveryOut.model_validate(delivery) for delivery in deliveries],
        next_cursor=_encode_cursor(int(deliveries[-1].id)) if more else None,
    )


@blueprint.post(WEBHOOK + "/deliveries/<delivery_id>/retry")
@validate_response(Accepted, 202)
@problems(401, 403, 404)
async def retry_delivery(org_id: str, webhook_id: str, delivery_id: str) -> tuple[Accepted, int]:
    """Send a delivery again now, once (admin), whatever its status."""
    caller = await require_org_role(org_id, "admin")
    db = get_db()
    async with db.transaction():
        webhook = await _existing(caller, webhook_id)
        number = int(delivery_id) if delivery_id.isascii() and delivery_id.isdigit() else None
        delivery = (
            number is not None
            and number < 2**63
            and await requeue_delivery(db, caller.org_id, webhook.id, number)
        )
        if not delivery:
            raise APIError(404, "DELIVERY_NOT_FOUND", "No such delivery of this webhook.")
    current_services().jobs.wake()
    return Accepted(), 202


def _sender() -> WebhookSender:
    return current_services().webhooks


async def _existing(caller: Caller, webhook_id: str, *, lock: bool = False) -> Webhook:
    try:
        webhook_id = str(UUID(webhook_id))
    except ValueError:
        webhook = None
    else:
        webhook = await select_webhook(get_db(), caller.org_id, webhook_id, lock=lock)
    if webhook is None:
        raise _webhook_not_found()
    return webhook


def _webhook_not_found() -> APIError:
    return APIError(404, "WEBHOOK_NOT_FOUND", "No such webhook in this organization.")


def _encode_cursor(delivery_id: int) -> str:
    """Opaque to clients: the id of the page's last delivery."""
    return base64.urlsafe_b64encode(str(delivery_id).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**63:
            raise ValueError(cursor)
        return int(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise validation_error(
            "cursor", "Not a cursor from this list.", "INVALID_CURSOR"
        ) from None
