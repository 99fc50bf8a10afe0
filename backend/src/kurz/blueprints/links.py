"""An org's short links: create, list and search, read, edit, delete, QR code."""

import base64
import binascii
import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import segno
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    RootModel,
    ValidationError,
)
from quart import Blueprint, Response, current_app, stream_with_context
from quart_rate_limiter import rate_limit
from quart_schema import (
    document_response,
    validate_querystring,
    validate_request,
    validate_response,
)

from ..audit import record_audit
from ..auth import Caller, require_org_role, role_at_least
from ..database import get_db
from ..errors import (
    TIMESTAMP_MESSAGE,
    APIError,
    problem_document,
    validation_error,
    validation_problem,
)
from ..models.links import (
    Link,
    delete_link,
    insert_link,
    select_link,
    select_links_page,
    update_link,
)
from ..models.tags import ensure_tags, select_tag_ids
from ..ratelimits import LINK_CREATION_LIMITS, take_link_creations
from ..schemas import Input, Query, Timestamp, no_content, problems
from ..slugs import check_slug, check_tag_names, check_url, random_slug, reserved_words
from ..uploads import BATCH_ITEMS

blueprint = Blueprint("links", __name__)

LINKS = "/api/v1/orgs/<org_id>/links"
LINK = LINKS + "/<slug>"
# Random slugs collide rarely (62**7 of them); a run of collisions means the space is filling.
RANDOM_SLUG_ATTEMPTS = 8

RedirectStatus = Literal[301, 302, 307, 308]
# PostgreSQL text cannot hold NUL characters.
NO_NUL = r"^[^\x00]*$"


def one_or_many(value: object) -> object:
    """A query parameter given once arrives as a string, given more often as a list."""
    return [value] if isinstance(value, str) else value


def _iso_string(value: object) -> object:
    if not isinstance(value, str):  # pydantic would read a number as a Unix time
        raise ValueError(TIMESTAMP_MESSAGE)
    return value


# JSON has no date type: a timestamp arrives as an ISO 8601 string, with its offset.
FutureTime = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_iso_string)]


MAX_TAGS = 10
TagNames = list[str] | None


class LinkCreate(Input):
    url: str = Field(description="Absolute http(s) URL, at most 2048 characters.")
    slug: str | None = Field(
        None, description="3-64 of A-Z a-z 0-9 - _, case-sensitive; random when absent."
    )
    title: str | None = Field(None, max_length=200, pattern=NO_NUL)
    expires_at: FutureTime | None = Field(None, description="In the future; never when absent.")
    redirect_status: RedirectStatus = 302
    tags: TagNames = Field(
        None,
        description="At most 10 tag names (1-40 characters, any letter case); new ones "
        "are created.",
    )


class LinkUpdate(Input):
    """Only the fields sent change; ``title`` and ``expires_at`` may be set to null."""

    # None as the default means "unchanged"; an explicit null is refused (not nullable).
    url: str = None  # type: ignore[assignment]
    title: str | None = Field(None, max_length=200, pattern=NO_NUL)
    expires_at: FutureTime | None = None
    disabled: bool = None  # type: ignore[assignment]
    redirect_status: RedirectStatus = None  # type: ignore[assignment]
    tags: list[str] = Field(None, description="Replaces the link's tags.")  # type: ignore


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
    tags: list[str]


class LinkPage(BaseModel):
    items: list[LinkOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: end.")


class LinkQuery(Query):
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = None
    q: str | None = Field(
        None, max_length=200, pattern=NO_NUL, description="Matches slug, url and title."
    )
    tag: Annotated[list[str], BeforeValidator(one_or_many)] = Field(
        [], description="Repeatable: links with these tags (any letter case)."
    )
    tags_mode: Literal["any", "all"] = Field(
        "any", description="any: links with at least one of the tags; all: with every one."
    )
    domain: str | None = Field(
        None, max_length=253, description="Only links on this domain (the default one here)."
    )


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
    link = await create_one(caller, data)
    return _out(link), 201


async def create_one(caller: Caller, data: LinkCreate) -> Link:
    """Create a link from a create body, in a transaction of its own (a savepoint inside a
    caller's), or raise the APIError that refuses it."""
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
    names = check_tag_names(data.tags or [], "tags", MAX_TAGS)
    db = get_db()
    async with db.transaction():
        values["tag_ids"] = await ensure_tags(db, caller.org_id, names)
        link = await _insert(db, slug, reserved, values)
    _forget(link.slug)  # a cached "no such slug" must not outlive the link's creation
    return link


async def _insert(db, slug: str | None, reserved: frozenset[str], values: dict) -> Link:
    if slug is not None:
        link = await insert_link(db, slug=slug, **values)
        if link is None:
            raise APIError(409, "SLUG_TAKEN", f"The slug {slug!r} is already taken.")
        return link
    for _ in range(RANDOM_SLUG_ATTEMPTS):
        candidate = random_slug()
        if candidate.lower() not in reserved:
            link = await insert_link(db, slug=candidate, **values)
            if link is not None:
                return link
    raise APIError(
        503,
        "SLUG_SPACE_EXHAUSTED",
        "No free random slug was found; try again, or choose a slug.",
        headers={"Retry-After": "1"},
    )


class BatchCreate(Input):
    items: list[Any] = Field(
        min_length=1, max_length=BATCH_ITEMS, description="Link create bodies, 1 to 1000."
    )


class BatchItem(BaseModel):
    index: int
    status: int = Field(description="201 created, or the status of the problem in ``error``.")
    link: LinkOut | None = None
    error: dict | None = Field(None, description="The problem object that refused the item.")


class BatchAnswer(BaseModel):
    items: list[BatchItem]


@blueprint.post(LINKS + "/batch")
@validate_request(BatchCreate)
@validate_response(BatchAnswer)
@problems(400, 401, 404, 413, 503)
async def create_links(org_id: str, data: BatchCreate) -> BatchAnswer:
    """Create up to 1,000 links at once. Each item is a link create body, created or refused
    on its own (a bad item never undoes a good one); the answer has one entry per item, in
    order. The org's link creation limit counts items: those past it are refused with 429."""
    caller = await require_org_role(org_id)
    allowed = await take_link_creations(len(data.items))
    answers = []
    for index, item in enumerate(data.items):
        try:
            if index >= allowed:
                raise APIError(429, "RATE_LIMITED", "Too many links created; try again later.")
            try:
                body = LinkCreate.model_validate(item)
            except ValidationError as error:
                raise validation_problem(error) from None
            link = await create_one(caller, body)
        except APIError as error:
            problem = problem_document(error)
            answers.append(BatchItem(index=index, status=error.status, error=problem))
        else:
            answers.append(BatchItem(index=index, status=201, link=_out(link)))
    return BatchAnswer(items=answers)


@blueprint.get(LINKS)
@validate_querystring(LinkQuery)
@validate_response(LinkPage)
@problems(400, 401, 404, 503)
async def list_links(org_id: str, query_args: LinkQuery) -> LinkPage:
    """The org's links, newest first, a page at a time; ``q`` searches slug, url and title,
    ``tag`` (repeatable) keeps links with any (``tags_mode=all``: every one) of the tags."""
    caller = await require_org_role(org_id)
    await current_app.extensions["kurz.clicks"].settle()
    filters = await list_filters(
        caller, query_args.q, query_args.tag, query_args.tags_mode, query_args.domain
    )
    if filters is None:
        return LinkPage(items=[], next_cursor=None)
    links = await select_links_page(
        get_db(),
        caller.org_id,
        limit=query_args.limit + 1,  # one more tells whether there is a next page
        before=None if query_args.cursor is None else _decode_cursor(query_args.cursor),
        **filters,
    )
    more = len(links) > query_args.limit
    links = links[: query_args.limit]
    return LinkPage(
        items=[_out(link) for link in links],
        next_cursor=_encode_cursor(links[-1]) if more else None,
    )


async def list_filters(
    caller: Caller, q: str | None, tags: list[str], tags_mode: str, domain: str | None
) -> dict | None:
    """The list's filters as ``link_filters`` takes them; None when no link can match (an
    unknown tag, or a domain that is not this service's)."""
    if domain is not None and domain.lower() != default_domain():
        return None
    if not tags:
        return {"search": q}
    names = check_tag_names(tags, "tag", None)
    tag_ids = await select_tag_ids(get_db(), caller.org_id, names)
    all_tags = tags_mode == "all"
    if not tag_ids or (all_tags and len(tag_ids) < len(names)):
        return None
    return {"search": q, "tag_ids": tag_ids, "all_tags": all_tags}


def default_domain() -> str:
    """The host of the service's own short URLs."""
    return urlsplit(current_app.config["KURZ"].base_url).netloc.lower()


class ExportQuery(Query):
    q: str | None = Field(None, max_length=200, pattern=NO_NUL)
    tag: Annotated[list[str], BeforeValidator(one_or_many)] = []
    tags_mode: Literal["any", "all"] = "any"
    domain: str | None = Field(None, max_length=253)


class LinksCsv(RootModel[str]):
    """``text/csv``: a header row, then one row per link."""

    content_types: ClassVar = ("text/csv",)


EXPORT_COLUMNS = (
    "slug",
    "short_url",
    "url",
    "title",
    "tags",
    "created_at",
    "expires_at",
    "disabled",
    "clicks",
    "redirect_status",
    "domain",
)
# Links read per query: the export holds one chunk at a time, however many links there are.
EXPORT_CHUNK = 1000


@blueprint.get(LINKS + "/export.csv")
@validate_querystring(ExportQuery)
@document_response(LinksCsv)
@problems(400, 401, 404, 503)
async def export_links(org_id: str, query_args: ExportQuery) -> Response:
    """Every link of the org matching the list's filters (``q``, ``tag``, ``tags_mode``,
    ``domain``) as CSV, newest first, not paged; tags are separated by ``|``. The file can be
    imported again (``POST .../imports``)."""
    caller = await require_org_role(org_id)
    await current_app.extensions["kurz.clicks"].settle()
    filters = await list_filters(
        caller, query_args.q, query_args.tag, query_args.tags_mode, query_args.domain
    )
    domain = default_domain()

    @stream_with_context
    async def rows():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        yield out.getvalue().encode()
        before = None
        while filters is not None:
            links = await select_links_page(
                get_db(), caller.org_id, limit=EXPORT_CHUNK, before=before, **filters
            )
            out.seek(0)
            out.truncate()
            for link in links:
                writer.writerow(_export_row(link, domain))
            yield out.getvalue().encode()
            if len(links) < EXPORT_CHUNK:
                break
            before = (links[-1].created_at, links[-1].id)

    return Response(
        rows(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="links.csv"'},
    )


def _export_row(link: Link, domain: str) -> list:
    def iso(when: datetime | None) -> str:
        return "" if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return [
        link.slug,
        _short_url(link.slug),
        link.url,
        link.title or "",
        "|".join(link.tags),
        iso(link.created_at),
        iso(link.expires_at),
        "true" if link.disabled else "false",
        link.clicks,
        link.redirect_status,
        domain,
    ]


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
    names = None
    if "tags" in changes:
        names = check_tag_names(changes.pop("tags") or [], "tags", MAX_TAGS)
    db = get_db()
    async with db.transaction():
        link = await _existing(caller, slug, lock=True)
        _check_may_change(caller, link)
        if names is not None:
            changes["tag_ids"] = await ensure_tags(db, caller.org_id, names)
        if not changes:
            return _out(link)
        updated = await update_link(db, caller.org_id, slug, changes)
        if changes.get("disabled", link.disabled) != link.disabled:
            action = "link.disable" if updated.disabled else "link.enable"
            await record_audit(caller, action, slug, {"url": updated.url})
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


def _check_may_change(caller: Caller, link: Link) -> None:
    """Admins may change any link of the org, members (and member tokens) their own."""
    own = (caller.user_id is not None and caller.user_id == link.created_by) or (
        caller.token_id is not None and caller.token_id == link.created_by_token
    )
    if not (own or role_at_least(caller.role, "admin")):
        raise APIError(403, "FORBIDDEN", "Only the link's creator or an admin may change it.")


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
        tags=link.tags,
    )


def _encode_cursor(link: Link) -> str:
    """Opaque to clients: the position (created_at, id) of the page's last link."""
    raw = f"{link.created_at.isoformat()}|{link.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, _, link_id = raw.partition("|")
        when, number = datetime.fromisoformat(created_at), int(link_id)
        if when.tzinfo is None or not 0 < number < 2**63:
            raise ValueError(cursor)
        # In UTC, as the database compares it (OverflowError within a day of year 1 or 9999).
        return when.astimezone(UTC), number
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise validation_error(
            "cursor", "Not a cursor from this list.", "INVALID_CURSOR"
        ) from None
