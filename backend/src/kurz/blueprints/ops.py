"""Liveness and readiness probes for load balancers and orchestrators."""

from quart import Blueprint
from quart_rate_limiter import rate_exempt
from quart_schema import hide

from ..database import UNAVAILABLE_ERRORS
from ..errors import APIError
from ..migrations import latest_version, select_version
from ..services import get_db, get_settings

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
@rate_exempt
@hide
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@blueprint.get("/readyz")
@rate_exempt
@hide
async def readyz() -> dict[str, str | int]:
    """The database answers and its schema is at this code's latest migration."""
    retry = {"Retry-After": "5"}  # as every other 503: a load balancer may ask again soon
    try:
        version = await select_version(get_db())
    except UNAVAILABLE_ERRORS:
        raise APIError(
            503, "DATABASE_UNAVAILABLE", "The database does not answer.", headers=retry
        ) from None
    expected = latest_version(get_settings().migrations_dir)
    if version != expected:
        raise APIError(
            503, "SCHEMA_NOT_CURRENT", f"Schema at {version}, expected {expected}.", headers=retry
        )
    return {"status": "ok", "schema_version": version}
