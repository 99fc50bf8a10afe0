"""The links list's sort, filters and total, and the bulk actions on links."""

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from tests.analytics.support import CHROME
from tests.support import assert_problem


def links_path(org_id: str, tail: str = "") -> str:
    return f"/api/v1/orgs/{org_id}/links{tail}"


async def listing(account, org_id: str, **query) -> dict:
    response = await account.client.get(links_path(org_id), query_string=query)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def every_page(account, org_id: str, between=None, **query) -> list[dict]:
    """Every link the list shows, page by page; ``between`` runs before each next page."""
    seen: list[dict] = []
    page = await listing(account, org_id, limit=2, **query)
    while True:
        seen += page["items"]
        if page["next_cursor"] is None:
            return seen
        if between is not None:
            await between()
        page = await listing(account, org_id, limit=2, cursor=page["next_cursor"], **query)


async def visit(client, slug: str, times: int) -> None:
    for _ in range(times):
        response = await client.get(f"/{slug}", headers={"User-Agent": CHROME})
        assert response.status_code == 302


# --- sort and keyset paging ------------------------------------------------------------------


def sort_key(sort: str, link: dict, last_clicked: dict):
    if sort in ("newest", "oldest"):
        return link["created_at"]
    if sort == "clicks":
        return link["clicks"]
    return last_clicked.get(link["slug"], "")


@pytest.mark.parametrize("sort", ["newest", "oldest", "clicks", "last_clicked"])
async def test_paging_under_each_sort_shows_every_link_once_while_links_are_created(
    sort, make_org, make_link, client, recorder
) -> None:
    org_id, owner = await make_org()
    slugs = [(await make_link(org_id, owner, title=f"L{n}"))["slug"] for n in range(7)]
    # Clicks 0,1,2,0,1,2,0 (ties included), clicked one after another for last_clicked.
    last_clicked: dict[str, str] = {}
    for number, slug in enumerate(slugs):
        await visit(client, slug, number % 3)
        await recorder.flush()
        if number % 3:
            last_clicked[slug] = f"{number:03}"
    created: list[str] = []

    async def create_two() -> None:
        if len(created) >= 6:  # links created at the end of the order would never run out
            return
        links = await asyncio.gather(make_link(org_id, owner), make_link(org_id, owner))
        created.extend(link["slug"] for link in links)

    seen = await every_page(owner, org_id, between=create_two, sort=sort)
    seen_slugs = [link["slug"] for link in seen]
    assert len(seen_slugs) == len(set(seen_slugs)), "a link was shown twice"
    assert set(slugs) <= set(seen_slugs), "a link that existed all along was skipped"
    assert set(seen_slugs) <= set(slugs) | set(created)
    originals = [link for link in seen if link["slug"] in slugs]
    keys = [sort_key(sort, link, last_clicked) for link in originals]
    assert keys == sorted(keys, reverse=sort != "oldest")
    if sort == "clicks":
        assert [link["clicks"] for link in originals] == [2, 2, 1, 1, 0, 0, 0]
    if sort == "last_clicked":
        assert [link["slug"] for link in originals[:4]] == [slugs[5], slugs[4], slugs[2], slugs[1]]


async def test_the_default_sort_is_newest_first_and_the_total_counts_all_matches(
    make_org, make_link
) -> None:
    org_id, owner = await make_org()
    slugs = [(await make_link(org_id, owner))["slug"] for _ in range(3)]
    page = await listing(owner, org_id, limit=2)
    assert [link["slug"] for link in page["items"]] == slugs[:0:-1]
    assert page["total"] == 3
    following = await listing(owner, org_id, limit=2, cursor=page["next_cursor"])
    assert following["total"] == 3 and following["next_cursor"] is None


async def test_a_cursor_of_another_sort_is_refused(make_org, make_link) -> None:
    org_id, owner = await make_org()
    for _ in range(3):
        await make_link(org_id, owner)
    page = await listing(owner, org_id, limit=1, sort="clicks")
    response = await owner.client.get(
        links_path(org_id), query_string={"cursor": page["next_cursor"], "sort": "newest"}
    )
    await assert_problem(response, 400, "INVALID_CURSOR")


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "popular"},
        {"status": "archived"},
        {"created_by": "someone"},
        {"created_after": "yesterday"},
        {"created_before": "2026-13-01"},
    ],
)
async def test_unknown_sorts_and_filters_are_a_400(query, make_org) -> None:
    org_id, owner = await make_org()
    response = await owner.client.get(links_path(org_id), query_string=query)
    await assert_problem(response, 400)


# --- filters ----------------------------------------------------------------------------------


async def test_filters_by_status(make_org, make_link, db) -> None:
    org_id, owner = await make_org()
    active = await make_link(org_id, owner)
    disabled = await make_link(org_id, owner)
    await owner.client.patch(links_path(org_id, f"/{disabled['slug']}"), json={"disabled": True})
    expired = await make_link(org_id, owner)
    await db.execute(
        "UPDATE links SET expires_at = now() - INTERVAL '1 hour' WHERE slug = :slug",
        {"slug": expired["slug"]},
    )
    expected = {
        "active": [active["slug"]],
        "disabled": [disabled["slug"]],
        "expired": [expired["slug"]],
        "limit_reached": [],
    }
    for status, slugs in expected.items():
        page = await listing(owner, org_id, status=status)
        assert [link["slug"] for link in page["items"]] == slugs, status
        assert page["total"] == len(slugs)


async def test_filters_by_creator_and_me(make_org, add_member, make_link, make_token) -> None:
    org_id, owner = await make_org()
    member = await add_member(org_id, owner, "admin")
    mine = await make_link(org_id, owner)
    theirs = await make_link(org_id, member)
    by_their_token = await make_link(org_id, await make_token(org_id, member))
    page = await listing(owner, org_id, created_by="me")
    assert [link["slug"] for link in page["items"]] == [mine["slug"]]
    page = await listing(owner, org_id, created_by=member.id)
    assert {link["slug"] for link in page["items"]} == {theirs["slug"], by_their_token["slug"]}
    page = await listing(member, org_id, created_by="me")
    assert page["total"] == 2


async def test_filters_by_creation_time_with_after_inclusive_and_before_exclusive(
    make_org, make_link, db
) -> None:
    org_id, owner = await make_org()
    first = await make_link(org_id, owner)
    second = await make_link(org_id, owner)
    # Answers show whole seconds: the two links must not share one.
    await db.execute(
        """UPDATE links SET created_at = date_trunc('second', created_at) - interval '1 hour'
            WHERE slug = :slug""",
        {"slug": first["slug"]},
    )
    await db.execute(
        "UPDATE links SET created_at = date_trunc('second', created_at) WHERE slug = :slug",
        {"slug": second["slug"]},
    )
    at = second["created_at"]
    page = await listing(owner, org_id, created_after=at)
    assert [link["slug"] for link in page["items"]] == [second["slug"]]
    page = await listing(owner, org_id, created_before=at)
    assert [link["slug"] for link in page["items"]] == [first["slug"]]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert (await listing(owner, org_id, created_after=tomorrow))["total"] == 0
    assert (await listing(owner, org_id, created_before=tomorrow))["total"] == 2


async def test_filters_combine_with_search_and_sort(make_org, make_link, client, recorder) -> None:
    org_id, owner = await make_org()
    docs = await make_link(org_id, owner, title="Docs")
    await make_link(org_id, owner, title="Blog")
    more_docs = await make_link(org_id, owner, title="More docs")
    await visit(client, docs["slug"], 2)
    await recorder.flush()
    page = await listing(owner, org_id, q="docs", sort="clicks", status="active")
    assert [link["slug"] for link in page["items"]] == [docs["slug"], more_docs["slug"]]
    assert page["total"] == 2


# --- bulk actions -----------------------------------------------------------------------------


async def test_bulk_disable_and_enable_by_slugs_is_audited_per_link(
    make_org, make_link, client, db
) -> None:
    org_id, owner = await make_org()
    links = [await make_link(org_id, owner) for _ in range(3)]
    chosen = [links[0]["slug"], links[2]["slug"]]
    response = await owner.client.post(
        links_path(org_id, "/bulk-update"), json={"slugs": chosen, "disabled": True}
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["count"] == 2 and sorted(body["slugs"]) == sorted(chosen)
    assert (await client.get(f"/{chosen[0]}")).status_code == 410
    assert (await client.get(f"/{links[1]['slug']}")).status_code == 302
    assert (await listing(owner, org_id, status="disabled"))["total"] == 2
    # Enabling all three changes only the two disabled ones.
    response = await owner.client.post(
        links_path(org_id, "/bulk-update"),
        json={"slugs": [link["slug"] for link in links], "disabled": False},
    )
    assert (await response.get_json())["count"] == 2
    assert (await client.get(f"/{chosen[0]}")).status_code == 302
    rows = await db.fetch_all(
        """SELECT action, target FROM audit_log
            WHERE org_id = :org_id AND action IN ('link.disable', 'link.enable')""",
        {"org_id": org_id},
    )
    assert sorted((row["action"], row["target"]) for row in rows) == sorted(
        [("link.disable", slug) for slug in chosen] + [("link.enable", slug) for slug in chosen]
    )


async def test_bulk_delete_by_filter_deletes_every_match_and_only_those(
    make_org, make_link, client, db
) -> None:
    org_id, owner = await make_org()
    doomed = [await make_link(org_id, owner, title=f"old campaign {n}") for n in range(3)]
    kept = await make_link(org_id, owner, title="keep me")
    response = await owner.client.post(
        links_path(org_id, "/bulk-delete"), json={"filter": {"q": "campaign"}}
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await response.get_json())["count"] == 3
    page = await listing(owner, org_id)
    assert [link["slug"] for link in page["items"]] == [kept["slug"]]
    assert (await client.get(f"/{doomed[0]['slug']}")).status_code == 404
    deleted = await db.fetch_val(
        "SELECT count(*) FROM audit_log WHERE org_id = :org_id AND action = 'link.delete'",
        {"org_id": org_id},
    )
    assert deleted == 3


async def test_bulk_update_by_filter_with_status_and_creator(
    make_org, add_member, make_link
) -> None:
    org_id, owner = await make_org()
    member = await add_member(org_id, owner)
    mine = [await make_link(org_id, member) for _ in range(2)]
    others = await make_link(org_id, owner)
    response = await member.client.post(
        links_path(org_id, "/bulk-update"),
        json={"filter": {"created_by": "me", "status": "active"}, "disabled": True},
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert sorted((await response.get_json())["slugs"]) == sorted(link["slug"] for link in mine)
    page = await listing(owner, org_id, status="active")
    assert [link["slug"] for link in page["items"]] == [others["slug"]]


async def test_a_member_may_bulk_change_only_their_own_links(
    make_org, add_member, make_link, client
) -> None:
    org_id, owner = await make_org()
    member = await add_member(org_id, owner)
    admin = await add_member(org_id, owner, "admin")
    own = await make_link(org_id, member)
    owners = await make_link(org_id, owner)
    both = {"slugs": [own["slug"], owners["slug"]]}
    for action, body in (("/bulk-update", {**both, "disabled": True}), ("/bulk-delete", both)):
        response = await member.client.post(links_path(org_id, action), json=body)
        error = await assert_problem(response, 403, "FORBIDDEN")
        assert "1 of the selected links" in error["detail"]
    # Nothing changed, not even the member's own link.
    assert (await client.get(f"/{own['slug']}")).status_code == 302
    # A filter covering someone else's link is refused the same way.
    response = await member.client.post(
        links_path(org_id, "/bulk-delete"), json={"filter": {"status": "active"}}
    )
    await assert_problem(response, 403, "FORBIDDEN")
    assert (await listing(owner, org_id))["total"] == 2
    # An admin may change anyone's.
    response = await admin.client.post(links_path(org_id, "/bulk-delete"), json=both)
    assert (await response.get_json())["count"] == 2


async def test_bulk_actions_never_reach_another_org(make_org, make_link, client) -> None:
    org_id, owner = await make_org()
    other_org, stranger = await make_org()
    victim = await make_link(other_org, stranger)
    await make_link(org_id, owner)
    response = await owner.client.post(
        links_path(org_id, "/bulk-update"), json={"slugs": [victim["slug"]], "disabled": True}
    )
    await assert_problem(response, 404, "LINK_NOT_FOUND")
    response = await owner.client.post(links_path(org_id, "/bulk-delete"), json={"filter": {}})
    assert (await response.get_json())["count"] == 1
    assert (await client.get(f"/{victim['slug']}")).status_code == 302
    assert (await listing(stranger, other_org))["total"] == 1
    # Not a member of the other org: as if it did not exist.
    response = await owner.client.post(
        links_path(other_org, "/bulk-delete"), json={"slugs": [victim["slug"]]}
    )
    await assert_problem(response, 404, "ORG_NOT_FOUND")


@pytest.mark.parametrize(
    "body",
    [
        {"disabled": True},
        {"slugs": ["abc"], "filter": {}, "disabled": True},
        {"slugs": [], "disabled": True},
        {"slugs": ["abc"]},
        {"slugs": ["abc"], "disabled": None},
        {"slugs": ["abc"], "disabled": "yes"},
        {"filter": {"status": "gone"}, "disabled": True},
        {"filter": {"created_by": "nobody"}, "disabled": True},
        {"slugs": ["abc"], "disabled": True, "color": "red"},
    ],
)
async def test_bad_bulk_bodies_are_a_400_and_change_nothing(
    body, make_org, make_link, client
) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, slug="abc")
    response = await owner.client.post(links_path(org_id, "/bulk-update"), json=body)
    await assert_problem(response, 400)
    assert (await client.get(f"/{link['slug']}")).status_code == 302


async def test_a_missing_slug_fails_the_whole_bulk_action(make_org, make_link, client) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    response = await owner.client.post(
        links_path(org_id, "/bulk-delete"), json={"slugs": [link["slug"], "nope-nope"]}
    )
    body = await assert_problem(response, 404, "LINK_NOT_FOUND")
    assert "nope-nope" in body["detail"]
    assert (await client.get(f"/{link['slug']}")).status_code == 302


# --- audit log --------------------------------------------------------------------------------


async def audit(account, org_id: str, **query) -> list[dict]:
    response = await account.client.get(f"/api/v1/orgs/{org_id}/audit", query_string=query)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return (await response.get_json())["items"]


async def test_audit_names_tokens_even_after_they_are_revoked(
    make_org, make_token, make_link
) -> None:
    org_id, owner = await make_org()
    token = await make_token(org_id, owner, "admin")
    link = await make_link(org_id, token)
    (entry,) = await audit(owner, org_id, action="link.create")
    assert entry["target"] == link["slug"]
    assert entry["token_name"] == "admin token" and entry["actor"] is None
    (item,) = (await (await owner.client.get(f"/api/v1/orgs/{org_id}/tokens")).get_json())["items"]
    await owner.client.delete(f"/api/v1/orgs/{org_id}/tokens/{item['id']}")
    (entry,) = await audit(owner, org_id, action="link.create")
    assert entry["token_name"] == "admin token"
    assert all(e["token_name"] is None for e in await audit(owner, org_id, action="org"))


async def test_audit_filters_by_actor_action_and_link(make_org, add_member, make_link) -> None:
    org_id, owner = await make_org()
    member = await add_member(org_id, owner)
    first = await make_link(org_id, member)
    second = await make_link(org_id, owner)
    await member.client.patch(
        links_path(org_id, f"/{first['slug']}"), json={"url": "https://example.org/"}
    )
    by_member = await audit(owner, org_id, actor=member.id)
    assert [e["action"] for e in by_member] == ["link.update", "link.create"]
    assert [e["target"] for e in await audit(owner, org_id, action="link.create")] == [
        second["slug"],
        first["slug"],
    ]
    assert {e["action"].split(".")[0] for e in await audit(owner, org_id, action="link")} == {
        "link"
    }
    history = await audit(owner, org_id, link=first["slug"])
    assert [e["action"] for e in history] == ["link.update", "link.create"]
    assert history[0]["detail"]["changes"] == {
        "url": {"from": "https://example.com/", "to": "https://example.org/"}
    }
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/audit?actor=x")
    await assert_problem(response, 400, "VALIDATION_ERROR")


async def test_audit_export_is_csv_of_every_matching_entry(
    make_org, add_member, make_link
) -> None:
    org_id, owner = await make_org()
    member = await add_member(org_id, owner)
    await make_link(org_id, owner, title="=HYPERLINK(1)")
    link = await make_link(org_id, owner)
    await owner.client.patch(links_path(org_id, f"/{link['slug']}"), json={"title": "=1+1"})
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/audit/export.csv?action=link")
    assert response.status_code == 200
    assert response.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await response.get_data(as_text=True))))
    assert [row["action"] for row in rows] == ["link.update", "link.create", "link.create"]
    assert rows[0]["actor_email"] == owner.email and rows[0]["at"].endswith("Z")
    assert '"to": "=1+1"' in rows[0]["detail"]
    everything = await owner.client.get(f"/api/v1/orgs/{org_id}/audit/export.csv")
    text = await everything.get_data(as_text=True)
    assert "member.add" in text and "org.create" in text
    response = await member.client.get(f"/api/v1/orgs/{org_id}/audit/export.csv")
    await assert_problem(response, 403, "FORBIDDEN")
