"""An org's short links: create, list and search, read, edit, delete, QR code."""

import base64
import binascii
import io
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import segno
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, RootModel
from quart import Blueprint, Response, current_app
from quart_rate_limiter import rate_limit
from quart_schema import (
    document_response,
    validate_querystring,
    validate_request,
    validate_response,
)

from ..audit import record_audit, record_audits
from ..auth import Caller, require_org_role, role_at_least
from ..database import get_db
from ..errors import TIMESTAMP_MESSAGE, APIError, validation_error
from ..models.links import (
    SORTS,
    STATUSES,
    Link,
    LinkFilter,
    count_links,
    delete_link,
    delete_links,
    insert_link,
    select_link,
    select_links,
    select_links_page,
    update_link,
    update_links_disabled,
)
from ..ratelimits import LINK_CREATION_LIMITS
from ..schemas import Input, Query, Timestamp, no_content, problems
from ..slugs import check_slug, check_url, random_slug, reserved_words

blueprint = Blueprint("links", __name__)

LINKS = "/api/v1/orgs/<org_id>/links"
LINK = LINKS + "/<slug>"
# Random slugs collide rarely (62**7 of them); a run of collisions means the space is filling.
RANDOM_SLUG_ATTEMPTS = 8

RedirectStatus = Literal[301, 302, 307, 308]
# PostgreSQL text cannot hold NUL characters.
NO_NUL = r"^[^\x00]*$"


def _iso_string(value: object) -> object:
    if not isinstance(value, str):  # pydantic would read a number as a Unix time
        raise ValueError(TIMESTAMP_MESSAGE)
    return value


# JSON has no date type: a timestamp arrives as an ISO 8601 string, with its offset.
FutureTime = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_iso_string)]


class LinkCreate(Input):
    url: str = Field(description="Absolute http(s) URL, at most 2048 characters.")
    slug: str | None = Field(
        None, description="3-64 of A-Z a-z 0-9 - _, case-sensitive; random when absent."
    )
    title: str | None = Field(None, max_length=200, pattern=NO_NUL)
    expires_at: FutureTime | None = Field(None, description="In the future; never when absent.")
    redirect_status: RedirectStatus = 302


class LinkUpdate(Input):
    """Only the fields sent change; ``title`` and ``expires_at`` may be set to null."""

    # None as the default means "unchanged"; an explicit null is refused (not nullable).
    url: str = None  # type: ignore[assignment]
    title: str | None = Field(None, max_length=200, pattern=NO_NUL)
    expires_at: FutureTime | None = None
    disabled: bool = None  # type: ignore[assignment]
    redirect_status: RedirectStatus = None  # type: ignore[assignment]


class Creator(BaseModel):
    id: str
    email: str


class LinkOut(BaseModel):
    slug: str
    url: str
    short_url: str
    title: str | None
    created_at: Timestamp
    updated_at: Timestamp
    created_by: Creator | None = Field(
        description="The user who created the link, or who created the API token that did; "
        "null once that user is deleted."
    )
    expires_at: Timestamp | None
    disabled: bool
    redirect_status: int
    clicks: int


class LinkPage(BaseModel):
    items: list[LinkOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: end.")
    total: int = Field(description="How many links match the filters, on every page.")


Sort = Literal[tuple(SORTS)]  # type: ignore[valid-type]
Status = Literal[tuple(STATUSES)]  # type: ignore[valid-type]
# Naive times (and plain dates) are read as UTC.
CreatedTime = Annotated[datetime, Field(strict=False), BeforeValidator(_iso_string)]


class LinkFilters(BaseModel):
    """The list's filters, shared by the list's query and the bulk actions' ``filter``."""

    q: str | None = Field(
        None, max_length=200, pattern=NO_NUL, description="Matches slug, url and title."
    )
    status: Status | None = Field(
        None,
        description="active, disabled (switched off), expired (past expires_at), or "
        "limit_reached (used up its max_clicks).",
    )
    created_by: str | None = Field(
        None, max_length=64, description="A user id, or `me`: links that user created."
    )
    created_after: CreatedTime | None = Field(
        None, description="Created at or after this time (ISO 8601; without offset: UTC)."
    )
    created_before: CreatedTime | None = Field(
        None, description="Created before this time (ISO 8601; without offset: UTC)."
    )


class LinkQuery(LinkFilters, Query):
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = None
    sort: Sort = Field(
        "newest",
        description="newest (default) or oldest created first, clicks (most first), or "
        "last_clicked (most recently clicked first, never clicked last).",
    )


class BulkFilter(LinkFilters, Input):
    pass


class BulkSelection(Input):
    """Exactly one of ``slugs`` (up to 1000 links) or ``filter`` (every link the list with
    these filters shows)."""

    slugs: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None, min_length=1, max_length=1000
    )
    filter: BulkFilter | None = None


class BulkUpdate(BulkSelection):
    """What to change in every selected link: at least one field."""

    disabled: bool | None = Field(None, description="true disables the links, false enables them.")


class BulkResult(BaseModel):
    count: int = Field(description="How many links changed.")
    slugs: list[str] = Field(description="The links that changed.")


class QrQuery(Query):
    format: Literal["svg", "png"] = "svg"


class QrCode(RootModel[str]):
    """The QR code image: image/svg+xml or image/png."""

    content_types: ClassVar = ("image/svg+xml", "image/png")


@blueprint.post(LINKS)
@rate_limit(limits=LINK_CREATION_LIMITS)
@validate_request(LinkCreate)
@validate_response(LinkOut, 201)
@problems(400, 401, 404, 409, 429, 503)
async def create_link(org_id: str, data: LinkCreate) -> tuple[LinkOut, int]:
    """Shorten a URL. Any member. 409 SLUG_TAKEN when the slug is in use anywhere."""
    caller = await require_org_role(org_id)
    settings = current_app.config["KURZ"]
    reserved = reserved_words(current_app)
    slug = None if data.slug is None else check_slug(data.slug, reserved)
    values = {
        "org_id": caller.org_id,
        "url": check_url(data.url, settings.base_url),
        "title": data.title,
        "created_by": caller.author_id,
        "created_by_token": caller.token_id,
        "expires_at": _future(data.expires_at),
        "redirect_status": data.redirect_status,
    }
    db = get_db()
    async with db.transaction():
        if slug is not None:
            link = await insert_link(db, slug=slug, **values)
            if link is None:
                raise APIError(409, "SLUG_TAKEN", f"The slug {slug!r} is already taken.")
        else:
            link = None
            for _ in range(RANDOM_SLUG_ATTEMPTS):
                candidate = random_slug()
                if candidate.lower() not in reserved:
                    link = await insert_link(db, slug=candidate, **values)
                if link is not None:
                    break
            else:
                raise APIError(
                    503,
                    "SLUG_SPACE_EXHAUSTED",
                    "No free random slug was found; try again, or choose a slug.",
                    headers={"Retry-After": "1"},
                )
        await record_audit(caller, "link.create", link.slug, {"url": link.url})
    _forget(link.slug)  # a cached "no such slug" must not outlive the link's creation
    return _out(link), 201


@blueprint.get(LINKS)
@validate_querystring(LinkQuery)
@validate_response(LinkPage)
@problems(400, 401, 404, 503)
async def list_links(org_id: str, query_args: LinkQuery) -> LinkPage:
    """The org's links a page at a time, in ``sort`` order (newest first by default), with the
    ``total`` that match. ``q`` searches slug, url and title; the other filters narrow by
    status, creator and creation time. Pass ``next_cursor`` back with the same sort and
    filters for the next page."""
    caller = await require_org_role(org_id)
    where = _filter(caller, query_args)
    after = None if query_args.cursor is None else _decode_cursor(query_args.cursor)
    if after is not None and after[0] != query_args.sort:
        raise validation_error("cursor", "This cursor is of another sort.", "INVALID_CURSOR")
    await current_app.extensions["kurz.clicks"].settle()
    db = get_db()
    rows = await select_links_page(
        db,
        caller.org_id,
        limit=query_args.limit + 1,  # one more tells whether there is a next page
        where=where,
        sort=query_args.sort,
        after=None if after is None else after[1:],
    )
    more = len(rows) > query_args.limit
    rows = rows[: query_args.limit]
    last_link, last_key = rows[-1] if rows else (None, None)
    return LinkPage(
        items=[_out(link) for link, _ in rows],
        next_cursor=_encode_cursor(query_args.sort, last_key, last_link.id) if more else None,
        total=await count_links(db, caller.org_id, where),
    )


@blueprint.post(LINKS + "/bulk-update")
@validate_request(BulkUpdate)
@validate_response(BulkResult)
@problems(400, 401, 403, 404, 503)
async def bulk_update_links(org_id: str, data: BulkUpdate) -> BulkResult:
    """Disable or enable many links at once, all or none: the given ``slugs``, or every link
    that ``filter`` matches. A member may change only their own links: when any selected link
    is someone else's, nothing changes (403). Audited as one entry per changed link."""
    caller = await require_org_role(org_id)
    if data.disabled is None:
        raise validation_error("disabled", "Nothing to change: give disabled.")
    db = get_db()
    async with db.transaction():
        links = await _selected(caller, data)
        slugs = await update_links_disabled(
            db, caller.org_id, [link.id for link in links], data.disabled
        )
        urls = {link.slug: link.url for link in links}
        action = "link.disable" if data.disabled else "link.enable"
        await record_audits(caller, action, [(slug, {"url": urls[slug]}) for slug in slugs])
    for slug in slugs:
        _forget(slug)
    return BulkResult(count=len(slugs), slugs=slugs)


@blueprint.post(LINKS + "/bulk-delete")
@validate_request(BulkSelection)
@validate_response(BulkResult)
@problems(400, 401, 403, 404, 503)
async def bulk_delete_links(org_id: str, data: BulkSelection) -> BulkResult:
    """Delete many links at once, all or none: the given ``slugs``, or every link that
    ``filter`` matches. A member may delete only their own links: when any selected link is
    someone else's, nothing is deleted (403). Audited as one entry per link."""
    caller = await require_org_role(org_id)
    db = get_db()
    async with db.transaction():
        links = await _selected(caller, data)
        await delete_links(db, caller.org_id, [link.id for link in links])
        await record_audits(
            caller, "link.delete", [(link.slug, {"url": link.url}) for link in links]
        )
    for link in links:
        _forget(link.slug)
    return BulkResult(count=len(links), slugs=[link.slug for link in links])


@blueprint.get(LINK)
@validate_response(LinkOut)
@problems(401, 404, 503)
async def get_link(org_id: str, slug: str) -> LinkOut:
    """One link of the org."""
    caller = await require_org_role(org_id)
    await current_app.extensions["kurz.clicks"].settle()
    return _out(await _existing(caller, slug))


@blueprint.patch(LINK)
@validate_request(LinkUpdate)
@validate_response(LinkOut)
@problems(400, 401, 403, 404, 503)
async def edit_link(org_id: str, slug: str, data: LinkUpdate) -> LinkOut:
    """Change a link: its creator or an org admin. Disabling (and enabling) is audited."""
    caller = await require_org_role(org_id)
    changes = {field: getattr(data, field) for field in data.model_fields_set}
    if "url" in changes:
        changes["url"] = check_url(changes["url"], current_app.config["KURZ"].base_url)
    if "expires_at" in changes:
        changes["expires_at"] = _future(changes["expires_at"])
    db = get_db()
    async with db.transaction():
        link = await _existing(caller, slug, lock=True)
        _check_may_change(caller, link)
        if not changes:
            return _out(link)
        updated = await update_link(db, caller.org_id, slug, changes)
        if changes.get("disabled", link.disabled) != link.disabled:
            action = "link.disable" if updated.disabled else "link.enable"
            await record_audit(caller, action, slug, {"url": updated.url})
        edits = _edits(link, updated)
        if edits:
            await record_audit(caller, "link.update", slug, {"url": updated.url, **edits})
    _forget(slug)
    return _out(updated)


@blueprint.delete(LINK)
@no_content
@problems(401, 403, 404, 503)
async def remove_link(org_id: str, slug: str) -> tuple[str, int]:
    """Delete a link: its creator or an org admin. It stops redirecting at once (404)."""
    caller = await require_org_role(org_id)
    db = get_db()
    async with db.transaction():
        link = await _existing(caller, slug, lock=True)
        _check_may_change(caller, link)
        await delete_link(db, caller.org_id, slug)
        await record_audit(caller, "link.delete", slug, {"url": link.url})
    _forget(slug)
    return "", 204


@blueprint.get(LINK + "/qr")
@validate_querystring(QrQuery)
@document_response(QrCode)
@problems(400, 401, 404, 503)
async def link_qr(org_id: str, slug: str, query_args: QrQuery) -> Response:
    """A QR code of the short URL: ``image/svg+xml`` (default) or ``image/png``."""
    caller = await require_org_role(org_id)
    link = await _existing(caller, slug)
    image = io.BytesIO()
    segno.make(_short_url(link.slug), error="m").save(
        image, kind=query_args.format, scale=10 if query_args.format == "png" else 4, border=4
    )
    content_type = "image/png" if query_args.format == "png" else "image/svg+xml"
    response = Response(image.getvalue(), content_type=content_type)
    # The short URL of a slug never changes, but the link may be deleted: a day at most.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


async def _existing(caller: Caller, slug: str, *, lock: bool = False) -> Link:
    link = await select_link(get_db(), caller.org_id, slug, lock=lock)
    if link is None:
        raise APIError(404, "LINK_NOT_FOUND", "No such link in this organization.")
    return link


def _may_change(caller: Caller, link: Link) -> bool:
    """Admins may change any link of the org, members (and member tokens) their own."""
    own = (caller.user_id is not None and caller.user_id == link.created_by) or (
        caller.token_id is not None and caller.token_id == link.created_by_token
    )
    return own or role_at_least(caller.role, "admin")


def _check_may_change(caller: Caller, link: Link) -> None:
    if not _may_change(caller, link):
        raise APIError(403, "FORBIDDEN", "Only the link's creator or an admin may change it.")


# The changes to a link the audit log shows as "from" -> "to" (disabling has entries of its own).
AUDITED_EDITS = ("url", "title", "expires_at", "redirect_status")


def _edits(before: Link, after: Link) -> dict:
    """What an edit changed: ``{"changes": {field: {"from": old, "to": new}}}``, or {}."""
    changes = {}
    for field in AUDITED_EDITS:
        old, new = getattr(before, field), getattr(after, field)
        if old != new:
            changes[field] = {"from": _json(old), "to": _json(new)}
    return {"changes": changes} if changes else {}


def _json(value: object) -> object:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def _filter(caller: Caller, filters: LinkFilters) -> LinkFilter:
    created_by = filters.created_by
    if created_by == "me":
        created_by = caller.author_id
    elif created_by is not None:
        try:
            created_by = str(UUID(created_by))
        except ValueError:
            raise validation_error("created_by", "Not a user id, nor `me`.") from None
    return LinkFilter(
        search=filters.q,
        status=filters.status,
        created_by=created_by,
        created_after=_utc(filters.created_after),
        created_before=_utc(filters.created_before),
    )


def _utc(when: datetime | None) -> datetime | None:
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)


async def _selected(caller: Caller, selection: BulkSelection) -> list[Link]:
    """The links a bulk action covers, locked; 404 when a given slug is not the org's, 403
    when a member selected someone else's link."""
    if (selection.slugs is None) == (selection.filter is None):
        raise validation_error("slugs", "Give either slugs or filter.")
    if selection.slugs is not None:
        where = LinkFilter(slugs=list(dict.fromkeys(selection.slugs)))
    else:
        where = _filter(caller, selection.filter)
    links = await select_links(get_db(), caller.org_id, where)
    if where.slugs is not None and len(links) < len(where.slugs):
        missing = sorted(set(where.slugs) - {link.slug for link in links})
        raise APIError(
            404, "LINK_NOT_FOUND", f"No such link in this organization: {', '.join(missing)}."
        )
    others = sum(not _may_change(caller, link) for link in links)
    if others:
        raise APIError(
            403,
            "FORBIDDEN",
            f"{others} of the selected links are not yours; only an admin may change them. "
            "Nothing was changed.",
        )
    return links


def _future(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    try:  # 9999-12-31T23:00:00-05:00 is a valid timestamp, but past year 9999 in UTC
        when = when.astimezone(UTC)
    except OverflowError:
        raise validation_error("expires_at", "The expiry is out of range.") from None
    if when <= datetime.now(UTC):
        raise validation_error("expires_at", "The expiry must be in the future.")
    return when


def _forget(slug: str) -> None:
    """Evict here at once; the database's notification evicts it on every other instance."""
    current_app.extensions["kurz.links_cache"].evict(slug)


def _short_url(slug: str) -> str:
    return f"{current_app.config['KURZ'].base_url}/{slug}"


def _out(link: Link) -> LinkOut:
    return LinkOut(
        slug=link.slug,
        url=link.url,
        short_url=_short_url(link.slug),
        title=link.title,
        created_at=link.created_at,
        updated_at=link.updated_at,
        created_by=(
            None
            if link.created_by is None or link.created_by_email is None
            else Creator(id=link.created_by, email=link.created_by_email)
        ),
        expires_at=link.expires_at,
        disabled=link.disabled,
        redirect_status=link.redirect_status,
        clicks=link.clicks,
    )


def _encode_cursor(sort: str, key: datetime | int, link_id: int) -> str:
    """Opaque to clients: the sort, and the position (sort key, id) of the page's last link."""
    value = key.isoformat() if isinstance(key, datetime) else str(key)
    raw = f"{sort}|{value}|{link_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, datetime | int, int]:
    """The sort, sort key and link id of a cursor; 400 INVALID_CURSOR for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        sort, value, link_id = raw.split("|")
        number = int(link_id)
        if sort not in SORTS or not 0 < number < 2**63:
            raise ValueError(cursor)
        if sort == "clicks":
            key = int(value)
            if not 0 <= key < 2**63:
                raise ValueError(cursor)
            return sort, key, number
        when = datetime.fromisoformat(value)
        if when.tzinfo is None:
            raise ValueError(cursor)
        # In UTC, as the database compares it (OverflowError within a day of year 1 or 9999).
        return sort, when.astimezone(UTC), number
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise validation_error(
            "cursor", "Not a cursor from this list.", "INVALID_CURSOR"
        ) from None
