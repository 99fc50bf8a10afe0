"""CSV imports: reading the file, mapping its columns, and the background job applying it.

Columns are found by header name, in any letter case and ignoring spaces, ``_`` and ``-``, so
the exports of other shorteners are read as they are (README, "CSV import"):

=================  =====================================================================
Kurz column        also read from
=================  =====================================================================
``url``            ``long_url`` / ``Long URL`` (Bitly), ``longUrl`` (Shlink),
                   ``target`` (Kutt), ``original_url``, ``destination``
``slug``           ``shortCode`` (Shlink), ``address`` (Kutt), ``custom back-half``,
                   ``keyword``; else the last path segment of ``short_url`` / ``link``
                   (Bitly), ``shortUrl`` (Shlink)
``title``          ``description`` (Kutt)
``tags``           names separated by ``|``
``expires_at``     ``validUntil`` (Shlink), ``expire_at``
``redirect_status``
``domain``         a verified domain of the org, or the service's own (empty: the same)
``disabled``       ``true`` disables the link (as Kurz's export writes it)
=================  =====================================================================

The job applies rows in chunks; each chunk's links are committed together with the import's
``next_row``, so after a crash the job resumes at the first row not committed, and never
applies a row twice. A row whose slug the org already has on its domain with the same URL, or
without slug whose URL the org already has on its domain, is skipped: importing a file again
creates nothing new.
"""

import csv
import io
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from databases import Database
from quart import Quart

from .blueprints.links import link_out
from .domains import stored_hostname
from .errors import APIError
from .jobs import Job, JobKind
from .models.domains import select_verified_domain_id
from .models.imports import (
    finish_import,
    select_import,
    select_import_body,
    select_slug_urls,
    select_url_domains,
    update_import_progress,
)
from .models.links import Link, insert_link, update_link
from .models.tags import ensure_tags
from .services import services
from .slugs import check_slug, check_tag_names, check_url, random_slug
from .uploads import IMPORT_ROWS
from .webhooks import emit

KIND = "csv-import"
CHUNK = 200
MAX_TITLE = 200

ALIASES = {
    "url": ("url", "longurl", "target", "originalurl", "destination"),
    "slug": ("slug", "shortcode", "address", "custombackhalf", "keyword"),
    "short_url": ("shorturl", "link", "shortlink", "bitlink"),
    "title": ("title", "description"),
    "tags": ("tags",),
    "expires_at": ("expiresat", "validuntil", "expireat"),
    "redirect_status": ("redirectstatus",),
    "domain": ("domain",),
    "disabled": ("disabled",),
}


class InvalidCsv(Exception):
    """The file as a whole cannot be imported (400 INVALID_CSV)."""


def _key(header: str) -> str:
    return "".join(ch for ch in header.strip().lower() if ch not in " _-")


def read_csv(body: bytes) -> tuple[dict[str, int], list[list[str]]]:
    """The column of each Kurz field found, and the rows after the header."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidCsv("The file is not UTF-8.") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise InvalidCsv(f"The file is not CSV: {error}.") from None
    if not rows:
        raise InvalidCsv("The file is empty; its first row names the columns.")
    keys = [_key(header) for header in rows[0]]
    columns: dict[str, int] = {}
    for field, aliases in ALIASES.items():
        for alias in aliases:
            if alias in keys:
                columns[field] = keys.index(alias)
                break
    if "url" not in columns:
        raise InvalidCsv("No url column (nor long_url, longUrl or target).")
    data = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    if len(data) > IMPORT_ROWS:
        raise InvalidCsv(f"The file has more than {IMPORT_ROWS} rows.")
    return columns, data


def import_kind(app: Quart) -> JobKind:
    """The job kind, with what it needs of the app (there is no request in a job)."""

    async def handler(db: Database, job: Job) -> None:
        async with app.app_context():  # for the events' short URLs
            await run_import(app, db, job.payload["import_id"])

    # A short lease: a server killed mid-import is resumed by another within seconds.
    return JobKind(KIND, handler, lease_seconds=15.0, concurrency=2)


async def run_import(app: Quart, db: Database, import_id: str) -> None:
    state = await select_import(db, None, import_id)
    if state is None or state.status in ("done", "failed"):
        return  # the org was deleted meanwhile, or a retry after the end
    body = await select_import_body(db, import_id)
    try:
        columns, rows = read_csv(body or b"")
    except InvalidCsv:  # checked when queued; only a corrupted row gets here
        await finish_import(db, import_id, "failed")
        return
    applier = ChunkApplier(
        app, db, state.org_id, state.created_by, state.created_by_token, columns
    )
    while True:
        async with db.transaction():
            state = await select_import(db, None, import_id, lock=True)
            if state is None:
                return
            first = state.next_row
            chunk = rows[first - 1 : first - 1 + CHUNK]
            if not chunk:
                break
            counts = {"created": 0, "skipped": 0, "failed": 0}
            errors = []
            for number, (outcome, error) in enumerate(await applier.apply(chunk), first):
                counts[outcome] += 1
                if error is not None:
                    errors.append({"row": number, "code": error.code, "message": error.detail})
            await update_import_progress(
                db, import_id, next_row=first + len(chunk), errors=errors, **counts
            )
        applier.forget_created()
    await finish_import(db, import_id, "done")


class ChunkApplier:
    """Creates the links of a chunk's rows, or says why not, in the chunk's transaction.

    What the org already has is read once per chunk, and tags once per name, so that a row
    that creates a link costs one statement.
    """

    def __init__(
        self,
        app: Quart,
        db: Database,
        org_id: str,
        created_by: str | None,
        token: str | None,
        columns: dict[str, int],
    ) -> None:
        self.app = app
        self.db = db
        self.org_id = org_id
        self.created_by = created_by
        self.token = token
        self.columns = columns
        self.settings = services(app).settings
        self.domain = urlsplit(self.settings.base_url).netloc.lower()
        self.domain_ids: dict[str, int | None] = {}  # verified domains of the org, by hostname
        self.reserved = services(app).reserved_slugs
        self.created: list[tuple[str, int | None]] = []  # (slug, domain_id)
        # The chunk's view of the org: URLs by (domain_id, slug), (domain_id, URL) pairs, tag
        # ids by lower-case name.
        self.slug_urls: dict[tuple[int | None, str], str] = {}
        self.urls: set[tuple[int | None, str]] = set()
        self.tag_ids: dict[str, int] = {}

    def _cell(self, row: list[str], field: str) -> str:
        index = self.columns.get(field)
        return row[index].strip() if index is not None and index < len(row) else ""

    async def apply(self, rows: list[list[str]]) -> list[tuple[str, APIError | None]]:
        """("created" | "skipped" | "failed", the error of a failed row) for each row."""
        checked: list[dict[str, Any] | APIError] = []
        for row in rows:
            try:
                values = self._values(row)
                values["domain_id"] = await self._domain_id(self._cell(row, "domain"))
                checked.append(values)
            except APIError as error:
                checked.append(error)
        await self._read_org([item for item in checked if isinstance(item, dict)])
        outcomes: list[tuple[str, APIError | None]] = []
        created = []
        for item in checked:
            try:
                if isinstance(item, APIError):
                    raise item
                if self._exists(item):
                    outcomes.append(("skipped", None))
                    continue
                created.append(await self._create(item))
                outcomes.append(("created", None))
            except APIError as error:
                outcomes.append(("failed", error))
        await emit(self.db, self.org_id, "link.created", *(link_out(link) for link in created))
        return outcomes

    def _values(self, row: list[str]) -> dict[str, Any]:
        cell = self._cell
        url = check_url(cell(row, "url"), self.settings.base_url)
        slug = cell(row, "slug") or _last_segment(cell(row, "short_url"))
        title = cell(row, "title") or None
        if title is not None and (len(title) > MAX_TITLE or "\x00" in title):
            raise APIError(400, "INVALID_TITLE", "A title has at most 200 characters.")
        status = cell(row, "redirect_status") or "302"
        if status not in ("301", "302", "307", "308"):
            raise APIError(400, "INVALID_REDIRECT_STATUS", "One of 301, 302, 307 or 308.")
        tags = [name for name in cell(row, "tags").split("|") if name.strip()]
        return {
            "url": url,
            "slug": check_slug(slug, self.reserved) if slug else None,
            "title": title,
            "expires_at": _timestamp(cell(row, "expires_at")),
            "redirect_status": int(status),
            "tags": check_tag_names(tags, "tags", 10),
            "disabled": cell(row, "disabled").lower() in ("true", "1", "yes"),
        }

    async def _domain_id(self, name: str) -> int | None:
        """None for the service's own domain (also an empty cell), else the id of the org's
        verified domain ``name``; 400 INVALID_DOMAIN for any other name, as ``POST .../links``."""
        name = name.lower()
        if not name or name == self.domain:
            return None
        hostname = stored_hostname(name)
        if hostname not in self.domain_ids:
            self.domain_ids[hostname] = await select_verified_domain_id(
                self.db, self.org_id, hostname
            )
        if self.domain_ids[hostname] is None:
            message = f"{name!r} is not a verified domain of this org."
            raise APIError(400, "INVALID_DOMAIN", message)
        return self.domain_ids[hostname]

    async def _read_org(self, rows: list[dict[str, Any]]) -> None:
        """What the org has of the rows' slugs and URLs, and no tag (tags may go between
        chunks)."""
        slugs: dict[int | None, list[str]] = {}
        for values in rows:
            if values["slug"] is not None:
                slugs.setdefault(values["domain_id"], []).append(values["slug"])
        self.slug_urls = {
            (domain_id, slug): url
            for domain_id, names in slugs.items()
            for slug, url in (await select_slug_urls(self.db, self.org_id, domain_id, names))
        }
        unnamed = [values["url"] for values in rows if values["slug"] is None]
        self.urls = await select_url_domains(self.db, self.org_id, unnamed) if unnamed else set()
        self.tag_ids = {}

    def _exists(self, values: dict[str, Any]) -> bool:
        """Whether the org has the row's link already (skip it); 409 SLUG_TAKEN when the org
        has its slug for another URL."""
        slug, domain_id, url = values["slug"], values["domain_id"], values["url"]
        if slug is None:
            return (domain_id, url) in self.urls
        existing = self.slug_urls.get((domain_id, slug))
        if existing is not None and existing != url:
            raise APIError(409, "SLUG_TAKEN", f"The slug {slug!r} is already taken.")
        return existing is not None

    async def _create(self, values: dict[str, Any]) -> Link:
        db, slug, domain_id, names = self.db, values["slug"], values["domain_id"], values["tags"]
        new_names = [name for name in names if name.lower() not in self.tag_ids]
        # A savepoint when the row makes tags: those of a refused row go with it.
        async with db.transaction() if new_names else nullcontext():
            made = dict(zip(new_names, await ensure_tags(db, self.org_id, new_names), strict=True))
            tag_ids = [made.get(name) or self.tag_ids[name.lower()] for name in names]
            link = None
            for candidate in [slug] if slug is not None else _random_slugs(self.reserved):
                link = await insert_link(
                    db,
                    org_id=self.org_id,
                    slug=candidate,
                    url=values["url"],
                    title=values["title"],
                    created_by=self.created_by,
                    created_by_token=self.token,
                    expires_at=values["expires_at"],
                    redirect_status=values["redirect_status"],
                    domain_id=domain_id,
                    tag_ids=tag_ids,
                )
                if link is not None:
                    break
            if link is None:  # another org's slug on the domain
                raise APIError(409, "SLUG_TAKEN", f"The slug {slug!r} is already taken.")
        self.tag_ids.update((name.lower(), tag_id) for name, tag_id in made.items())
        if values["disabled"]:
            link = await update_link(db, self.org_id, link.slug, {"disabled": True}, domain_id)
        self.slug_urls[(domain_id, link.slug)] = link.url
        self.urls.add((domain_id, link.url))
        self.created.append((link.slug, domain_id))
        return link

    def forget_created(self) -> None:
        """Once committed: a cached "no such slug" must not outlive the links' creation."""
        cache = services(self.app).link_cache
        for slug, domain_id in self.created:
            cache.forget(slug, domain_id)
        self.created.clear()


def _random_slugs(reserved: frozenset[str]) -> Iterator[str]:
    for _ in range(8):
        candidate = random_slug()
        if candidate.lower() not in reserved:
            yield candidate


def _last_segment(short_url: str) -> str:
    if not short_url:
        return ""
    path = urlsplit(short_url if "//" in short_url else "//" + short_url).path
    return path.rstrip("/").rsplit("/", 1)[-1]


def _timestamp(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise APIError(400, "INVALID_EXPIRES_AT", "expires_at is not an ISO 8601 time.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise APIError(400, "INVALID_EXPIRES_AT", "expires_at is out of range.") from None
