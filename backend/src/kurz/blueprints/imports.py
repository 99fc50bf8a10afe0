"""CSV imports of links: queued as a background job, progress readable while it runs."""

import uuid
from typing import ClassVar

from pydantic import BaseModel, Field, RootModel
from quart import Blueprint, request
from quart_rate_limiter import rate_limit
from quart_schema import document_request, validate_response
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth import require_org_role
from ..errors import APIError
from ..imports import KIND, InvalidCsv, read_csv
from ..jobs import enqueue
from ..models.imports import Import, insert_import, select_import
from ..ratelimits import LINK_CREATION_LIMITS
from ..schemas import Timestamp, problems
from ..services import current_services, get_db
from ..uploads import IMPORT_BYTES

blueprint = Blueprint("imports", __name__)

IMPORTS = "/api/v1/orgs/<org_id>/imports"


class CsvFile(RootModel[str]):
    """A CSV file (``Content-Type: text/csv``, UTF-8): a header row, then a link per row."""

    content_types: ClassVar = ("text/csv",)


class RowError(BaseModel):
    row: int = Field(description="From 1; the header is row 0.")
    code: str
    message: str


class ImportOut(BaseModel):
    id: str
    status: str = Field(description="queued, running, done or failed")
    total: int = Field(description="Rows in the file.")
    created: int
    skipped: int = Field(description="Already there: the same slug and URL in the org.")
    failed: int
    errors: list[RowError]
    created_at: Timestamp
    finished_at: Timestamp | None


@blueprint.post(IMPORTS)
@rate_limit(limits=LINK_CREATION_LIMITS)
@document_request(CsvFile)
@validate_response(ImportOut, 202)
@problems(400, 401, 403, 404, 413, 415, 429, 503)
async def start_import(org_id: str) -> tuple[ImportOut, int]:
    """Import links from a CSV file (at most 50,000 rows and 10 MB). Columns by header name:
    ``url`` (required), ``slug``, ``title``, ``tags`` (separated by ``|``), ``expires_at``,
    ``redirect_status``, ``domain``; Bitly, Shlink and Kutt exports are read as they are. The
    import runs in the background: poll it by its id. A row whose slug the org already has
    with the same URL is skipped, so importing a file twice creates nothing new."""
    caller = await require_org_role(org_id)
    if request.mimetype != "text/csv":
        raise APIError(415, "UNSUPPORTED_MEDIA_TYPE", "Send the file as text/csv.")
    try:
        body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
    except RequestEntityTooLarge:
        raise _invalid(f"The file is over {IMPORT_BYTES // (1024 * 1024)} MB.") from None
    try:
        _, rows = read_csv(body)
    except InvalidCsv as error:
        raise _invalid(str(error)) from None
    db = get_db()
    async with db.transaction():
        started = await insert_import(
            db,
            org_id=caller.org_id,
            created_by=caller.author_id,
            created_by_token=caller.token_id,
            body=body,
            total=len(rows),
        )
        await enqueue(db, KIND, {"import_id": started.id})
    current_services().jobs.wake()
    return _out(started), 202


@blueprint.get(IMPORTS + "/<import_id>")
@validate_response(ImportOut)
@problems(401, 404, 503)
async def get_import(org_id: str, import_id: str) -> ImportOut:
    """An import's progress: rows created, skipped and failed so far, each failure's row."""
    caller = await require_org_role(org_id)
    try:
        found = await select_import(get_db(), caller.org_id, _uuid(import_id))
    except ValueError:
        found = None
    if found is None:
        raise APIError(404, "IMPORT_NOT_FOUND", "No such import in this organization.")
    return _out(found)


def _uuid(value: str) -> str:
    return str(uuid.UUID(value))


def _invalid(message: str) -> APIError:
    return APIError(400, "INVALID_CSV", message)


def _out(found: Import) -> ImportOut:
    return ImportOut(
        id=found.id,
        status=found.status,
        total=found.total,
        created=found.created,
        skipped=found.skipped,
        failed=found.failed,
        errors=[RowError(**error) for error in found.errors],
        created_at=found.created_at,
        finished_at=found.finished_at,
    )
