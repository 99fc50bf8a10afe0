"""Tag filters stay fast in an org of 100,000 links: the GIN index on ``links.tag_ids`` finds a
tag's links (any or all of several) instead of a scan of the org's links."""

import json

from kurz.models.links import LinkFilter, link_filters
from kurz.models.tags import ensure_tags, select_tags
from tests.analytics.test_stats_plan import scans

# Links :first to :last in org :org_id; every 2,000th has tag :rare, every 3rd tag :common.
LOAD_LINKS = """INSERT INTO links (org_id, slug, url, tag_ids)
    SELECT :org_id, 'link-' || i, 'https://example.com/' || i,
           array_remove(ARRAY[CASE WHEN i % 2000 = 0 THEN CAST(:rare AS BIGINT) END,
                              CASE WHEN i % 3 = 0 THEN CAST(:common AS BIGINT) END], NULL)
      FROM generate_series(CAST(:first AS INTEGER), CAST(:last AS INTEGER)) AS i"""


async def test_tag_filters_use_the_tag_index(db) -> None:
    org_id = str(await db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    rare, common = await ensure_tags(db, org_id, ["rare", "common"])
    for first in range(1, 100_000, 10_000):  # short statements, under the query timeout
        await db.execute(
            LOAD_LINKS,
            {"org_id": org_id, "rare": rare, "common": common}
            | {"first": first, "last": first + 9_999},
        )
    await db.execute("ANALYZE links")
    for tag_ids, all_tags in (([rare], False), ([rare, common], True)):
        conditions, values = link_filters(org_id, LinkFilter(tag_ids=tag_ids, all_tags=all_tags))
        sql = f"""SELECT id FROM links WHERE {" AND ".join(conditions)}
                   ORDER BY created_at DESC, id DESC LIMIT 51"""  # noqa: S608
        plan = json.loads(await db.fetch_val(f"EXPLAIN (FORMAT JSON) {sql}", values))[0]["Plan"]
        assert scans(plan) == {("links", "links_tag_ids_idx")}, plan
        rows = await db.fetch_all(sql, values)
        assert len(rows) == (50 if not all_tags else 16)
    plan = json.loads(
        await db.fetch_val(
            """EXPLAIN (FORMAT JSON) SELECT count(*) FROM links
                WHERE links.org_id = :org_id AND links.tag_ids @> ARRAY[CAST(:id AS BIGINT)]""",
            {"org_id": org_id, "id": rare},
        )
    )[0]["Plan"]
    assert scans(plan) == {("links", "links_tag_ids_idx")}, plan
    counts = {tag.name: tag.links for tag in await select_tags(db, org_id)}
    assert counts == {"rare": 50, "common": 33_333}
