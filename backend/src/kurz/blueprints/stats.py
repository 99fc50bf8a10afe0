"""Per-link click statistics."""

from pydantic import Field
from quart import Blueprint, current_app
from quart_schema import validate_querystring, validate_response

from ..auth import require_org_role
from ..database import get_db
from ..errors import APIError
from ..models.clicks import LinkStats, select_link_stats
from ..models.links import select_link
from ..schemas import Query, problems

blueprint = Blueprint("stats", __name__)


class StatsQuery(Query):
    days: int = Field(default=30, ge=1, le=365, description="UTC days, today included")


@blueprint.get("/api/v1/orgs/<org_id>/links/<slug>/stats")
@validate_querystring(StatsQuery)
@validate_response(LinkStats, 200)
@problems(400, 401, 404, 503)
async def link_stats(org_id: str, slug: str, query_args: StatsQuery) -> LinkStats:
    """Human visits of the link over the last ``days`` UTC days (today included).

    Known bots (crawlers, link-preview fetchers, uptime monitors) and HEAD requests are recorded
    but not counted. ``total_clicks`` counts the window only (the link's ``clicks`` is
    all time); ``unique_visitors`` is the sum of each day's distinct visitors, recognised by a
    hash salted per day (no IP address is stored). ``series`` has one entry per day, zeros
    included; the top 10 referrer hosts (direct visits have none), browsers, operating systems
    and device classes (desktop, mobile, tablet, other) come with their clicks, and the top
    countries (ISO 3166-1 alpha-2, null when unknown; see README "Countries"). Visits served by
    the instance answering are included at once, those of other instances within about a second.
    """
    caller = await require_org_role(org_id)
    await current_app.extensions["kurz.clicks"].settle()
    db = get_db()
    link = await select_link(db, caller.org_id, slug)
    if link is None:
        raise APIError(404, "LINK_NOT_FOUND", "No such link in this organization.")
    return await select_link_stats(db, link.id, query_args.days)
