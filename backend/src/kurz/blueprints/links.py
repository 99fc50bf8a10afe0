"""An org's short links: create, list and search, read, edit, delete, QR code."""

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit
from uuid import UUID

import segno
from databases import Database
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
)
from quart import Blueprint, Response, request, stream_with_context
from quart_rate_limiter import rate_limit
from quart_schema import (
    document_response,
    validate_querystring,
    validate_request,
    validate_response,
)

from ..audit import record_audit, record_audits
from ..auth import Caller, require_org_role, role_at_least
from ..cursors import invalid_cursor, open_cursor, seal_cursor
from ..destinations import check_destination
from ..domains import stored_hostname
from ..errors import (
    TIMESTAMP_MESSAGE,
    APIError,
    problem_document,
    validation_error,
    validation_problem,
)
from ..models.domains import is_verified_hostname, select_domain, select_verified_domain_id
from ..models.links import (
    EDITABLE,
    SORTS,
    Link,
    LinkFilter,
    Sort,
    Status,
    count_links,
    delete_link,
    delete_links,
    insert_link,
    select_link,
    select_links,
    select_links_page,
    update_link,
    update_links,
)
from ..models.tags import ensure_tags, select_tag_ids
from ..passwords import LINK_PASSWORD_COST, check_link_password, hash_password
from ..ratelimits import LINK_CREATION_LIMITS, take_link_creations
from ..schemas import (
    ID_PATTERN,
    NO_NUL,
    Cursor,
    DomainName,
    Input,
    Query,
    TagName,
    Timestamp,
    WebUrl,
    no_content,
    problems,
)
from ..services import current_services, get_db, get_settings
from ..slugs import check_slug, check_tag_names, check_url, random_slug
from ..uploads import BATCH_ITEMS
from ..webhooks import emit
from .redirects import limit_unknown_slugs

blueprint = Blueprint("links", __name__)

LINKS = "/api/v1/orgs/<org_id>/links"
LINK = LINKS + "/<slug>"
# Random slugs collide rarely (62**7 of them); a run of collisions means the space is filling.
RANDOM_SLUG_ATTEMPTS = 8

RedirectStatus = Literal[301, 302, 307, 308]
# PostgreSQL text cannot hold NUL characters.
MAX_RULES = 20
MAX_CLICKS = 10**9
SECRET_DESCRIPTION = "Write-only: visitors must enter it; 4 to 72 bytes (UTF-8)."  # noqa: S105


def one_or_many(value: object) -> object:
    """A query parameter given once arrives as a string, given more often as a list."""
    return [value] if isinstance(value, str) else value


def _iso_string(value: object) -> object:
    if not isinstance(value, str):  # pydantic would read a number as a Unix time
        raise ValueError(TIMESTAMP_MESSAGE)
    try:
        float(value)  # and a number written as text ("0.5") too
    except ValueError:
        return value
    raise ValueError(TIMESTAMP_MESSAGE)


# JSON has no date type: a timestamp arrives as an ISO 8601 string, with its offset.
FutureTime = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_iso_string)]


class Rule(Input):
    """Sends the visits that match all its given conditions to ``url``; at least one condition."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("country", "device", "os")
            ]
        }
    )

    country: str | None = Field(
        None, pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 code, such as DE."
    )
    device: Literal["desktop", "mobile", "tablet"] | None = None
    os: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=NO_NUL,
        description="The OS family as the stats show it: iOS, Android, Windows, Mac OS X, ...",
    )
    url: WebUrl = Field(description="Where matching visits go; the same rules as a link's url.")


MAX_TAGS = 10
TagNames = list[TagName] | None


class LinkCreate(Input):
    url: WebUrl = Field(description="Absolute http(s) URL, at most 2048 characters.")
    slug: str | None = Field(
        None, description="3-64 of A-Z a-z 0-9 - _, case-sensitive; random when absent."
    )
    title: str | None = Field(None, max_length=200, pattern=NO_NUL)
    expires_at: FutureTime | None = Field(None, description="In the future; never when absent.")
    redirect_status: RedirectStatus = 302
    password: str | None = Field(None, description=SECRET_DESCRIPTION)
    max_clicks: int | None = Field(
        None, ge=1, le=MAX_CLICKS, description="Human redirects allowed; unlimited when absent."
    )
    expired_url: WebUrl | None = Field(
        None, description="Where the link sends visitors once expired, disabled or used up."
    )
    rules: list[Rule] = Field(
        default_factory=list, max_length=MAX_RULES, description="Evaluated in order."
    )
    domain: DomainName | None = Field(
        None, description="A verified domain of the org; the default when absent."
    )
    tags: TagNames = Field(
        None,
        description="At most 10 tag names (1-40 characters, any letter case); new ones "
        "are created.",
    )


class LinkUpdate(Input):
    """Only the fields sent change; ``title`` and ``expires_at`` may be set to null."""

    # None as the default means "unchanged"; an explicit null is refused (not nullable).
    url: WebUrl = None  # type: ignore[assignment]
    title: str | None = Field(None, max_length=200, pattern=NO_NUL)
    expires_at: FutureTime | None = None
    disabled: bool = None  # type: ignore[assignment]
    redirect_status: RedirectStatus = None  # type: ignore[assignment]
    password: str | None = Field(None, description=SECRET_DESCRIPTION + " null removes it.")
    max_clicks: int | None = Field(None, ge=1, le=MAX_CLICKS)
    expired_url: WebUrl | None = None
    rules: list[Rule] = Field(None, max_length=MAX_RULES)  # type: ignore[arg-type]
    tags: list[TagName] = Field(None, description="Replaces the link's tags.")  # type: ignore[arg-type]


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
    domain: str | None = Field(description="Its branded domain; null: the default domain.")
    password_protected: bool
    max_clicks: int | None
    clicks_remaining: int | None = Field(description="Of max_clicks; null without a limit.")
    expired_url: str | None
    rules: list[dict[str, str]] = Field(
        description="[{country?, device?, os?, url}], in the order they are evaluated."
    )
    tags: list[str]


class LinkPage(BaseModel):
    items: list[LinkOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: end.")
    total: int = Field(description="How many links match the filters, on every page.")


# Naive times (and plain dates) are read as UTC.
CreatedTime = Annotated[datetime, Field(strict=False), BeforeValidator(_iso_string)]


class LinkFilters(BaseModel):
    """The list's filters, shared by the list's query and the bulk actions' ``filter``."""

    q: str | None = Field(
        None, max_length=200, pattern=NO_NUL, description="Matches slug, url and title."
    )
    tag: Annotated[list[TagName], BeforeValidator(one_or_many)] = Field(
        [], description="Repeatable: links with these tags (any letter case)."
    )
    tags_mode: Literal["any", "all"] = Field(
        "any", description="any: links with at least one of the tags; all: with every one."
    )
    domain: DomainName | None = Field(
        None, description="Only links on this domain (its host name)."
    )
    status: Status | None = Field(
        None,
        description="active, disabled (switched off), expired (past expires_at), or "
        "limit_reached (used up its max_clicks).",
    )
    created_by: str | None = Field(
        None,
        pattern=f"^(me|{ID_PATTERN})$",
        description="A user id, or `me`: links that user created.",
    )
    created_after: CreatedTime | None = Field(
        None, description="Created at or after this time (ISO 8601; without offset: UTC)."
    )
    created_before: CreatedTime | None = Field(
        None, description="Created before this time (ISO 8601; without offset: UTC)."
    )


class LinkQuery(LinkFilters, Query):
    limit: int = Field(50, ge=1, le=100)
    cursor: Cursor | None = None
    sort: Sort = Field(
        "newest",
        description="newest (default) or oldest created first, clicks (most first), or "
        "last_clicked (most recently clicked first, never clicked last).",
    )


class BulkFilter(LinkFilters, Input):
    # In JSON the tags are a list; only a query string repeats (or not) a parameter.
    tag: list[TagName] = Field([], description="Links with these tags (any letter case).")


class BulkSelection(Input):
    """Exactly one of ``slugs`` (up to 1000 links, on ``domain``) or ``filter`` (every link the
    list with these filters shows)."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["slugs"]}, {"required": ["filter"]}]}
    )

    slugs: list[Annotated[str, Field(max_length=64, pattern=NO_NUL)]] = Field(
        None, min_length=1, max_length=1000  # type: ignore[arg-type]
    )
    domain: DomainName | None = Field(
        None, description="The domain of slugs; the default domain when absent."
    )
    filter: BulkFilter = None  # type: ignore[assignment]


class BulkUpdate(BulkSelection):
    """What to change in every selected link: at least one of ``disabled``, ``add_tags`` and
    ``remove_tags``."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [{"required": ["slugs"]}, {"required": ["filter"]}],
            "anyOf": [{"required": [name]} for name in ("disabled", "add_tags", "remove_tags")],
        }
    )

    disabled: bool | None = Field(None, description="true disables the links, false enables them.")
    add_tags: list[TagName] = Field(
        default_factory=list,
        min_length=1,
        description="Tag names (any letter case) to put on every link; new ones are created. "
        "A link keeps at most 10 tags.",
    )
    remove_tags: list[TagName] = Field(
        default_factory=list,
        min_length=1,
        description="Tag names (any letter case) to take off every link that has them.",
    )


class BulkResult(BaseModel):
    count: int = Field(description="How many links changed.")
    slugs: list[str] = Field(description="The links that changed.")


class QrQuery(Query):
    format: Literal["svg", "png"] = "svg"
    domain: DomainName | None = Field(None, description="The link's branded domain.")


class QrCode(RootModel[str]):
    """The QR code image: image/svg+xml or image/png."""

    content_types: ClassVar = ("image/svg+xml", "image/png")


@blueprint.post(LINKS)
@rate_limit(limits=LINK_CREATION_LIMITS)
@validate_request(LinkCreate)
@validate_response(LinkOut, 201)
@problems(400, 401, 404, 409, 429, 503)
async def create_link(org_id: str, data: LinkCreate) -> tuple[LinkOut, int]:
    """Shorten a URL. Any member. ``domain``: a verified domain of the org (400
    INVALID_DOMAIN otherwise). 409 SLUG_TAKEN when the slug is in use on that domain.

    SLUG_TAKEN answers count, per client address, in the same allowance as redirects to unknown
    slugs: beyond it, 429.
    """
    caller = await require_org_role(org_id)
    link = await create_one(caller, data)
    return link_out(link), 201


async def create_one(caller: Caller, data: LinkCreate) -> Link:
    """Create a link from a create body, in a transaction of its own (a savepoint inside a
    caller's), or raise the APIError that refuses it."""
    reserved = current_services().reserved_slugs
    slug = None if data.slug is None else check_slug(data.slug, reserved)
    values = {
        "org_id": caller.org_id,
        "url": await _check_target(data.url),
        "title": data.title,
        "created_by": caller.author_id,
        "created_by_token": caller.token_id,
        "expires_at": _future(data.expires_at),
        "redirect_status": data.redirect_status,
        "domain_id": await _new_link_domain(caller, data.domain),
        **await _controls(data, data.model_fields_set),
    }
    names = check_tag_names(data.tags or [], "tags", MAX_TAGS)
    db = get_db()
    async with db.transaction():
        values["tag_ids"] = await ensure_tags(db, caller.org_id, names)
        link = await _insert(db, slug, reserved, values)
        await emit(db, caller.org_id, "link.created", link_out(link))
        await record_audit(caller, "link.create", link.slug, {"url": link.url})
    _forget(link)  # a cached "no such slug" must not outlive the link's creation
    return link


async def _insert(
    db: Database, slug: str | None, reserved: frozenset[str], values: dict[str, Any]
) -> Link:
    if slug is not None:
        link = await insert_link(db, slug=slug, **values)
        if link is None:
            limit_unknown_slugs()  # "taken" says a slug exists: as telling as a 404
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
    error: dict[str, Any] | None = Field(
        None, description="The problem object that refused the item."
    )


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
            answers.append(BatchItem(index=index, status=201, link=link_out(link)))
    return BatchAnswer(items=answers)


@blueprint.get(LINKS)
@validate_querystring(LinkQuery)
@validate_response(LinkPage)
@problems(400, 401, 404, 503)
async def list_links(org_id: str, query_args: LinkQuery) -> LinkPage:
    """The org's links a page at a time, in ``sort`` order (newest first by default), with the
    ``total`` that match. ``q`` searches slug, url and title; ``tag`` (repeatable) keeps links
    with any (``tags_mode=all``: every one) of the tags; the other filters narrow by domain,
    status, creator and creation time. Pass ``next_cursor`` back with the same sort and filters
    for the next page."""
    caller = await require_org_role(org_id)
    where = await _filter(caller, query_args)
    cursor = query_args.cursor
    after = None if cursor is None else _decode_cursor(caller.org_id, cursor)
    if after is not None and after[0] != query_args.sort:
        raise validation_error("cursor", "This cursor is of another sort.", "INVALID_CURSOR")
    await current_services().clicks.settle()
    if where is None:  # no link can match
        return LinkPage(items=[], next_cursor=None, total=0)
    db = get_db()
    # The total counts every match (a scan of them all): on a connection of its own, at the
    # same time as the page rather than after it.
    rows, total = await asyncio.gather(
        select_links_page(
            db,
            caller.org_id,
            limit=query_args.limit + 1,  # one more tells whether there is a next page
            where=where,
            sort=query_args.sort,
            after=None if after is None else after[1:],
        ),
        count_links(db, caller.org_id, where),
    )
    next_cursor = None
    if len(rows) > query_args.limit:
        rows = rows[: query_args.limit]
        last_link, last_key = rows[-1]
        next_cursor = _encode_cursor(caller.org_id, query_args.sort, last_key, last_link.id)
    return LinkPage(
        items=[link_out(link) for link, _ in rows],
        next_cursor=next_cursor,
        total=total,
    )


@blueprint.post(LINKS + "/bulk-update")
@validate_request(BulkUpdate)
@validate_response(BulkResult)
@problems(400, 401, 403, 404, 413, 503)
async def bulk_update_links(org_id: str, data: BulkUpdate) -> BulkResult:
    """Disable or enable many links at once, and add or take off tags, all or none: the given
    ``slugs``, or every link that ``filter`` matches. A member may change only their own
    links: when any selected link is someone else's, nothing changes (403). Answers the links
    that changed; each gets its audit entries and a ``link.updated`` event, as an edit would."""
    caller = await require_org_role(org_id)
    add = check_tag_names(data.add_tags, "add_tags", MAX_TAGS)
    remove = check_tag_names(data.remove_tags, "remove_tags", None)
    both = {name.lower() for name in add} & {name.lower() for name in remove}
    if both:
        raise validation_error(
            "remove_tags", f"A tag cannot be added and removed at once: {', '.join(sorted(both))}."
        )
    if data.disabled is None and not add and not remove:
        raise validation_error(
            "disabled", "Nothing to change: give disabled, add_tags or remove_tags."
        )
    db = get_db()
    async with db.transaction():
        links = await _selected(caller, data)
        _check_tag_room(links, add, remove)
        changed = await update_links(
            db,
            caller.org_id,
            [link.id for link in links],
            disabled=data.disabled,
            # Only tags that end up on a link are created.
            add_tag_ids=await ensure_tags(db, caller.org_id, add) if links else [],
            remove_tag_ids=await select_tag_ids(db, caller.org_id, remove) if remove else [],
        )
        await emit(db, caller.org_id, "link.updated", *(link_out(link) for link in changed))
        before = {link.id: link for link in links}
        toggled = [link for link in changed if link.disabled != before[link.id].disabled]
        action = "link.disable" if data.disabled else "link.enable"
        await record_audits(caller, action, [(link.slug, {"url": link.url}) for link in toggled])
        edited = [(link, _edits(before[link.id], link)) for link in changed]
        await record_audits(
            caller,
            "link.update",
            [(link.slug, {"url": link.url, **edits}) for link, edits in edited if edits],
        )
    for link in changed:
        _forget(link)
    return BulkResult(count=len(changed), slugs=[link.slug for link in changed])


def _check_tag_room(links: list[Link], add: list[str], remove: list[str]) -> None:
    """400 when adding tags would give any of the links more than MAX_TAGS."""
    adding = {name.lower() for name in add}
    removing = {name.lower() for name in remove}
    full = [
        link.slug
        for link in links
        if len({name.lower() for name in link.tags} - removing | adding) > MAX_TAGS
    ]
    if full:
        raise validation_error(
            "add_tags",
            f"A link has at most {MAX_TAGS} tags; {len(full)} of the selected links would have "
            f"more (such as {full[0]}). Nothing was changed.",
        )


@blueprint.post(LINKS + "/bulk-delete")
@validate_request(BulkSelection)
@validate_response(BulkResult)
@problems(400, 401, 403, 404, 413, 503)
async def bulk_delete_links(org_id: str, data: BulkSelection) -> BulkResult:
    """Delete many links at once, all or none: the given ``slugs``, or every link that
    ``filter`` matches. A member may delete only their own links: when any selected link is
    someone else's, nothing is deleted (403). Audited as one entry per link, and each gets a
    ``link.deleted`` event, as a single delete would."""
    caller = await require_org_role(org_id)
    db = get_db()
    async with db.transaction():
        links = await _selected(caller, data)
        await delete_links(db, caller.org_id, [link.id for link in links])
        await emit(db, caller.org_id, "link.deleted", *(link_out(link) for link in links))
        await record_audits(
            caller, "link.delete", [(link.slug, {"url": link.url}) for link in links]
        )
    for link in links:
        _forget(link)
    return BulkResult(count=len(links), slugs=[link.slug for link in links])


async def list_filters(
    caller: Caller, q: str | None, tags: list[str], tags_mode: str, domain: str | None
) -> dict[str, Any] | None:
    """The search, tag and domain filters as ``LinkFilter`` takes them; None when no link can
    match (an unknown tag, or a domain that is neither this service's nor one of the org's)."""
    names = check_tag_names(tags, "tag", None)  # bad names are refused whatever else is given
    filters: dict[str, Any] = {"search": q}
    if domain is not None:
        filters["on_domain"] = True
        if domain.lower() != default_domain():
            found = await select_domain(get_db(), caller.org_id, stored_hostname(domain))
            if found is None:
                return None
            filters["domain_id"] = found.id
    if not names:
        return filters
    tag_ids = await select_tag_ids(get_db(), caller.org_id, names)
    all_tags = tags_mode == "all"
    if not tag_ids or (all_tags and len(tag_ids) < len(names)):
        return None
    return {**filters, "tag_ids": tag_ids, "all_tags": all_tags}


def default_domain() -> str:
    """The host of the service's own short URLs."""
    return urlsplit(get_settings().base_url).netloc.lower()


class ExportQuery(LinkFilters, Query):
    sort: Sort = "newest"


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
    """Every link of the org matching the list's filters as CSV, in ``sort`` order, not paged;
    tags are separated by ``|``. The file can be imported again (``POST .../imports``)."""
    caller = await require_org_role(org_id)
    await current_services().clicks.settle()
    where = await _filter(caller, query_args)
    domain = default_domain()

    @stream_with_context
    async def rows() -> AsyncIterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        yield out.getvalue().encode()
        after: tuple[datetime | int, int] | None = None
        while where is not None:
            rows = await select_links_page(
                get_db(),
                caller.org_id,
                limit=EXPORT_CHUNK,
                where=where,
                sort=query_args.sort,
                after=after,
            )
            out.seek(0)
            out.truncate()
            for link, _ in rows:
                writer.writerow(_export_row(link, domain))
            yield out.getvalue().encode()
            if len(rows) < EXPORT_CHUNK:
                break
            after = (rows[-1][1], rows[-1][0].id)

    return Response(
        rows(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="links.csv"'},
    )


def _export_row(link: Link, domain: str) -> list[object]:
    def iso(when: datetime | None) -> str:
        return "" if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return [
        link.slug,
        _short_url(link),
        link.url,
        link.title or "",
        "|".join(link.tags),
        iso(link.created_at),
        iso(link.expires_at),
        "true" if link.disabled else "false",
        link.clicks,
        link.redirect_status,
        link.domain or domain,
    ]


@blueprint.get(LINK)
@validate_response(LinkOut)
@problems(401, 404, 503)
async def get_link(org_id: str, slug: str) -> LinkOut:
    """One link of the org."""
    caller = await require_org_role(org_id)
    await current_services().clicks.settle()
    return link_out(await _existing(caller, slug))


@blueprint.patch(LINK)
@validate_request(LinkUpdate)
@validate_response(LinkOut)
@problems(400, 401, 403, 404, 503)
async def edit_link(org_id: str, slug: str, data: LinkUpdate) -> LinkOut:
    """Change a link: its creator or an org admin. Disabling (and enabling) is audited."""
    caller = await require_org_role(org_id)
    controls = await _controls(data, data.model_fields_set)
    changes = {field: getattr(data, field) for field in data.model_fields_set if field in EDITABLE}
    changes.update(controls)
    if "url" in changes:
        changes["url"] = await _check_target(changes["url"])
    if "expires_at" in changes:
        changes["expires_at"] = _future(changes["expires_at"])
    names = None
    if "tags" in data.model_fields_set:
        names = check_tag_names(data.tags or [], "tags", MAX_TAGS)
    db = get_db()
    async with db.transaction():
        link = await _existing(caller, slug, lock=True)
        _check_may_change(caller, link)
        if names is not None:
            changes["tag_ids"] = await ensure_tags(db, caller.org_id, names)
        if not changes:
            return link_out(link)
        updated = await update_link(db, caller.org_id, slug, changes, link.domain_id)
        await emit(db, caller.org_id, "link.updated", link_out(updated))
        if changes.get("disabled", link.disabled) != link.disabled:
            action = "link.disable" if updated.disabled else "link.enable"
            await record_audit(caller, action, slug, {"url": updated.url})
        edits = _edits(link, updated)
        if edits:
            await record_audit(caller, "link.update", slug, {"url": updated.url, **edits})
    _forget(link)
    return link_out(updated)


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
        await delete_link(db, caller.org_id, slug, link.domain_id)
        await emit(db, caller.org_id, "link.deleted", link_out(link))
        await record_audit(caller, "link.delete", slug, {"url": link.url})
    _forget(link)
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
    segno.make(_short_url(link), error="m").save(
        image, kind=query_args.format, scale=10 if query_args.format == "png" else 4, border=4
    )
    content_type = "image/png" if query_args.format == "png" else "image/svg+xml"
    response = Response(image.getvalue(), content_type=content_type)
    # The short URL of a slug never changes, but the link may be deleted: a day at most.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


async def _existing(caller: Caller, slug: str, *, lock: bool = False) -> Link:
    link = await find_link(caller, slug, lock=lock)
    if link is None:
        raise APIError(404, "LINK_NOT_FOUND", "No such link in this organization.")
    return link


async def find_link(caller: Caller, slug: str, *, lock: bool = False) -> Link | None:
    """The org's link ``slug`` on the domain that ``?domain=`` names (the default without)."""
    db = get_db()
    hostname = request.args.get("domain")
    domain_id = None
    if hostname:
        domain = await select_domain(db, caller.org_id, stored_hostname(hostname))
        if domain is None:
            return None
        domain_id = domain.id
    return await select_link(db, caller.org_id, slug, lock=lock, domain_id=domain_id)


async def _check_target(url: str) -> str:
    """A link's URL (see ``check_url``), and not on a branded domain either: a short link to a
    short link could loop."""
    url = check_url(url, get_settings().base_url)
    if await is_verified_hostname(get_db(), stored_hostname(urlsplit(url).hostname or "")):
        raise validation_error(
            "url", "A link cannot point at short links of a branded domain.", "INVALID_URL"
        )
    await check_destination(url)
    return url


async def _new_link_domain(caller: Caller, hostname: str | None) -> int | None:
    """New links go on the default domain or on a verified domain of the org."""
    if hostname is None:
        return None
    domain_id = await select_verified_domain_id(get_db(), caller.org_id, stored_hostname(hostname))
    if domain_id is None:
        raise validation_error(
            "domain", f"{hostname!r} is not a verified domain of this org.", "INVALID_DOMAIN"
        )
    return domain_id


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
AUDITED_EDITS = ("url", "title", "expires_at", "redirect_status", "tags")


def _edits(before: Link, after: Link) -> dict[str, Any]:
    """What an edit changed: ``{"changes": {field: {"from": old, "to": new}}}``, or {}."""
    changes = {}
    for field in AUDITED_EDITS:
        old, new = getattr(before, field), getattr(after, field)
        if old != new:
            changes[field] = {"from": _json(old), "to": _json(new)}
    return {"changes": changes} if changes else {}


def _json(value: object) -> object:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


async def _filter(caller: Caller, filters: LinkFilters) -> LinkFilter | None:
    """The filters as the models take them; None when no link can match."""
    created_by = filters.created_by
    if created_by == "me":
        created_by = caller.author_id
    elif created_by is not None:
        created_by = str(UUID(created_by))
    common = await list_filters(caller, filters.q, filters.tag, filters.tags_mode, filters.domain)
    if common is None:
        return None
    return LinkFilter(
        **common,
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
        domain = selection.domain or default_domain()
        on_domain = await list_filters(caller, None, [], "any", domain)
        if on_domain is None:
            raise APIError(404, "LINK_NOT_FOUND", "No such domain in this organization.")
        where = LinkFilter(**on_domain, slugs=list(dict.fromkeys(selection.slugs)))
    else:
        assert selection.filter is not None  # checked above: one of the two is given
        filtered = await _filter(caller, selection.filter)
        if filtered is None:
            return []
        where = filtered
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


async def _controls(data: LinkCreate | LinkUpdate, given: set[str]) -> dict[str, Any]:
    """The columns of the link controls sent: the password hashed, URLs and rules checked."""
    columns: dict[str, Any] = {}
    if "password" in given:
        if data.password is None:
            columns["password_hash"] = None
        else:
            check_link_password(data.password)
            columns["password_hash"] = await hash_password(data.password, LINK_PASSWORD_COST)
    if "max_clicks" in given:
        columns["max_clicks"] = data.max_clicks
    if "expired_url" in given:
        columns["expired_url"] = (
            None
            if data.expired_url is None
            else await _check_url_at(data.expired_url, "expired_url")
        )
    if "rules" in given:
        columns["rules"] = [await _rule(rule, index) for index, rule in enumerate(data.rules)]
    return columns


async def _rule(rule: Rule, index: int) -> dict[str, str]:
    if rule.country is None and rule.device is None and rule.os is None:
        raise validation_error(
            f"rules.{index}", "A rule needs a country, a device or an OS to match."
        )
    stored = {"url": await _check_url_at(rule.url, f"rules.{index}.url")}
    if rule.country is not None:
        stored["country"] = rule.country.upper()
    if rule.device is not None:
        stored["device"] = rule.device
    if rule.os is not None:
        stored["os"] = rule.os
    return stored


async def _check_url_at(url: str, field: str) -> str:
    """A URL checked as a link's (``_check_target``), its error naming ``field``."""
    try:
        return await _check_target(url)
    except APIError as error:
        error.errors = [{**problem, "field": field} for problem in error.errors or []]
        raise


def _forget(link: Link) -> None:
    """Evict here at once; the database's notification evicts it on every other instance."""
    current_services().link_cache.forget(link.slug, link.domain_id)


def _short_url(link: Link) -> str:
    if link.domain is not None:
        return f"https://{link.domain}/{link.slug}"
    return f"{get_settings().base_url}/{link.slug}"


def link_out(link: Link) -> LinkOut:
    return LinkOut(
        slug=link.slug,
        url=link.url,
        short_url=_short_url(link),
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
        domain=link.domain,
        password_protected=link.password_hash is not None,
        max_clicks=link.max_clicks,
        clicks_remaining=(
            None if link.max_clicks is None else max(0, link.max_clicks - link.clicks_used)
        ),
        expired_url=link.expired_url,
        rules=link.rules,
        tags=link.tags,
    )


def _encode_cursor(org_id: str, sort: str, key: datetime | int, link_id: int) -> str:
    """Opaque to clients: the sort, and the position (sort key, id) of the page's last link,
    sealed for the org's list."""
    value = key.isoformat() if isinstance(key, datetime) else key
    return seal_cursor("links", org_id, [sort, value, link_id])


def _decode_cursor(org_id: str, cursor: str) -> tuple[str, datetime | int, int]:
    """The sort, sort key and link id of a cursor; 400 INVALID_CURSOR for anything else."""
    try:
        sort, value, link_id = open_cursor("links", org_id, cursor)
        if sort not in SORTS or not isinstance(link_id, int):
            raise ValueError(cursor)
        if sort == "clicks":
            if not isinstance(value, int):
                raise ValueError(cursor)
            return sort, value, link_id
        when = datetime.fromisoformat(value)
        if when.tzinfo is None:
            raise ValueError(cursor)
        return sort, when.astimezone(UTC), link_id
    except (TypeError, ValueError):
        raise invalid_cursor() from None
