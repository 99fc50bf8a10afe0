"""Click statistics of a link and of an org's links, as JSON or as CSV (one row per day)."""

import csv
import io
from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, TypeAdapter
from quart import Blueprint, Response
from quart_schema import document_response, validate_querystring

from ..auth import require_org_role
from ..errors import APIError
from ..models.clicks import LinkStats, select_link_stats, select_org_stats
from ..models.links import LinkFilter, link_filters
from ..schemas import DomainName, Query, TagName, or_csv, problems
from ..services import current_services, get_db
from .links import find_link, list_filters, one_or_many

blueprint = Blueprint("stats", __name__)

STATS = TypeAdapter(LinkStats)


class StatsQuery(Query):
    days: int = Field(default=30, ge=1, le=365, description="UTC days, today included")
    domain: DomainName | None = Field(None, description="The link's branded domain.")
    format: Literal["json", "csv"] = Field(
        "json", description="csv: one row per day (date, clicks)."
    )


class OrgStatsQuery(StatsQuery):
    tag: Annotated[list[TagName], BeforeValidator(one_or_many)] = Field(
        [], description="Repeatable: only links with these tags."
    )
    tags_mode: Literal["any", "all"] = "any"
    domain: DomainName | None = Field(None, description="Only links on this domain.")


class TopLink(BaseModel):
    slug: str
    domain: str | None = Field(description="Its branded domain; null: the default domain.")
    title: str | None
    clicks: int


class OrgStats(BaseModel):
    total_clicks: int
    unique_visitors: int
    series: list[dict[str, Any]]
    referrers: list[dict[str, Any]]
    browsers: list[dict[str, Any]]
    os: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    countries: list[dict[str, Any]]
    top_links: list[TopLink]


@blueprint.get("/api/v1/orgs/<org_id>/links/<slug>/stats")
@validate_querystring(StatsQuery)
@document_response(or_csv(LinkStats), 200)
@problems(400, 401, 404, 503)
async def link_stats(org_id: str, slug: str, query_args: StatsQuery) -> Response | dict[str, Any]:
    """Human visits of the link over the last ``days`` UTC days (today included).

    Known bots (crawlers, link-preview fetchers, uptime monitors) and HEAD requests are recorded
    but not counted. ``total_clicks`` counts the window only (the link's ``clicks`` is
    all time); ``unique_visitors`` is the sum of each day's distinct visitors, recognised by a
    hash salted per day (no IP address is stored). ``series`` has one entry per day, zeros
    included; the top 10 referrer hosts (direct visits have none), browsers, operating systems
    and device classes (desktop, mobile, tablet, other) come with their clicks, and the top
    countries (ISO 3166-1 alpha-2, null when unknown). Visits served by the instance answering
    are included at once, those of other instances within about a second. ``format=csv``
    answers the series as CSV.
    """
    caller = await require_org_role(org_id)
    await current_services().clicks.settle()
    link = await find_link(caller, slug)
    if link is None:
        raise APIError(404, "LINK_NOT_FOUND", "No such link in this organization.")
    stats = await select_link_stats(get_db(), link.id, query_args.days)
    if query_args.format == "csv":
        return _csv(stats, f"{slug}-stats.csv")
    answer: dict[str, Any] = STATS.dump_python(stats, mode="json")
    return answer


@blueprint.get("/api/v1/orgs/<org_id>/stats")
@validate_querystring(OrgStatsQuery)
@document_response(or_csv(OrgStats), 200)
@problems(400, 401, 404, 503)
async def org_stats(org_id: str, query_args: OrgStatsQuery) -> Response | dict[str, Any]:
    """Human visits of all the org's links (or those with ``tag``, on ``domain``) over the last
    ``days`` UTC days: the fields of a link's stats, plus the 10 links with the most clicks in
    the window. Unique visitors are summed per link and day. ``format=csv`` answers the series
    as CSV."""
    caller = await require_org_role(org_id)
    await current_services().clicks.settle()
    filters = await list_filters(
        caller, None, query_args.tag, query_args.tags_mode, query_args.domain
    )
    # No link can match: the stats of no links (the same shape, zeros).
    conditions, values = link_filters(caller.org_id, LinkFilter(**(filters or {})))
    if filters is None:
        conditions.append("FALSE")
    whole_org = filters is not None and not query_args.tag and query_args.domain is None
    stats, top = await select_org_stats(
        get_db(), conditions, values, query_args.days, whole_org=whole_org
    )
    if query_args.format == "csv":
        return _csv(stats, "stats.csv")
    return {**STATS.dump_python(stats, mode="json"), "top_links": [asdict(link) for link in top]}


def _csv(stats: LinkStats, filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", "clicks"])
    writer.writerows([day.date.isoformat(), day.clicks] for day in stats.series)
    return Response(
        out.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
