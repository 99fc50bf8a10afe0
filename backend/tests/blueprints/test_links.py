import asyncio
import base64
import json
import re
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kurz.errors import TIMESTAMP_MESSAGE
from kurz.models.links import SEARCH_TEXT
from kurz.redirects.cache import asyncpg_dsn
from kurz.services import services
from kurz.slugs import RESERVED
from tests.support import assert_problem

LINK_FIELDS = {
    "slug",
    "url",
    "short_url",
    "title",
    "created_at",
    "updated_at",
    "created_by",
    "expires_at",
    "disabled",
    "redirect_status",
    "clicks",
    "domain",
    "password_protected",
    "max_clicks",
    "clicks_remaining",
    "expired_url",
    "rules",
    "tags",
}


def links_path(org_id: str, slug: str = "") -> str:
    return f"/api/v1/orgs/{org_id}/links" + (f"/{slug}" if slug else "")


def future(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**(delta or {"days": 1}))).isoformat()


# --- create ---------------------------------------------------------------------------------


async def test_create_answers_the_link_with_exactly_the_contract_fields(make_org) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(
        links_path(org_id),
        json={"url": "https://example.com/page?a=1", "title": "Docs", "redirect_status": 301},
    )
    assert response.status_code == 201
    link = await response.get_json()
    assert set(link) == LINK_FIELDS
    assert re.fullmatch(r"[A-Za-z0-9]{7}", link["slug"])
    assert link["short_url"] == f"http://kurz.test/{link['slug']}"
    assert link["url"] == "https://example.com/page?a=1"
    assert link["title"] == "Docs"
    assert link["created_by"] == {"id": owner.id, "email": owner.email}
    assert link["redirect_status"] == 301
    assert (link["disabled"], link["clicks"], link["expires_at"]) == (False, 0, None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", link["created_at"])
    assert link["updated_at"] == link["created_at"]

    fetched = await owner.client.get(links_path(org_id, link["slug"]))
    assert fetched.status_code == 200
    assert await fetched.get_json() == link


async def test_redirect_status_defaults_to_302_and_accepts_only_the_four(make_org) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(links_path(org_id), json={"url": "https://a.example"})
    assert (await response.get_json())["redirect_status"] == 302
    for status in (301, 307, 308):
        response = await owner.client.post(
            links_path(org_id), json={"url": "https://a.example", "redirect_status": status}
        )
        assert (await response.get_json())["redirect_status"] == status
    for status in (200, 303, 304, 404, "302"):
        response = await owner.client.post(
            links_path(org_id), json={"url": "https://a.example", "redirect_status": status}
        )
        await assert_problem(response, 400, "VALIDATION_ERROR")


async def test_a_token_created_link_names_the_tokens_creator(
    make_org, add_member, make_token, client
) -> None:
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    token = await make_token(org_id, admin, "member")
    response = await client.post(
        links_path(org_id), json={"url": "https://example.com/"}, headers=token
    )
    assert response.status_code == 201
    link = await response.get_json()
    assert link["created_by"] == {"id": admin.id, "email": admin.email}
    listed = await (await owner.client.get(links_path(org_id))).get_json()
    assert listed["items"][0]["created_by"] == {"id": admin.id, "email": admin.email}


@pytest.mark.parametrize(
    "slug", ["abc", "My-Link_2", "x" * 64, "a-b", "___", "API2", "docs-v2", "0000000"]
)
async def test_custom_slugs_within_the_rules_are_accepted(make_org, slug: str) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(
        links_path(org_id), json={"url": "https://example.com/", "slug": slug}
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    assert (await response.get_json())["slug"] == slug


@pytest.mark.parametrize(
    "slug",
    ["ab", "x" * 65, "with space", "dot.ted", "slash/ed", "ümlaut", "emoji😀", "", "a%20b"],
)
async def test_custom_slugs_breaking_the_rules_are_invalid_slug(make_org, slug: str) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(
        links_path(org_id), json={"url": "https://example.com/", "slug": slug}
    )
    body = await assert_problem(response, 400, "INVALID_SLUG")
    assert body["errors"][0]["field"] == "slug"


async def test_reserved_words_and_every_top_level_route_are_invalid_slugs(app, make_org) -> None:
    org_id, owner = await make_org()
    served = {
        rule.rule.strip("/").split("/")[0]
        for rule in app.url_map.iter_rules()
        if rule.rule.strip("/") and not rule.rule.startswith("/<")
    }
    assert {"api", "healthz", "readyz", "docs", "assets", "openapi.json"} <= served
    candidates = {word for word in RESERVED | served if re.fullmatch(r"[\w-]{3,64}", word)}
    candidates |= {"API", "Docs", "HEALTHZ"}  # reserved in any letter case
    for slug in sorted(candidates):
        response = await owner.client.post(
            links_path(org_id), json={"url": "https://example.com/", "slug": slug}
        )
        await assert_problem(response, 400, "INVALID_SLUG")


async def test_a_route_added_later_is_reserved_without_editing_a_list(settings, app_factory):
    app = app_factory(settings)

    @app.get("/pricing")
    async def pricing() -> str:
        return "cheap"

    async with app.test_app():
        client = app.test_client()
        await client.post(
            "/api/v1/users",
            json={"email": "p@example.com", "password": "correct horse battery staple"},
        )
        await client.post(
            "/api/v1/session",
            json={"email": "p@example.com", "password": "correct horse battery staple"},
        )
        org_id = (await (await client.post("/api/v1/orgs", json={"name": "P"})).get_json())["id"]
        response = await client.post(
            links_path(org_id), json={"url": "https://example.com/", "slug": "pricing"}
        )
        await assert_problem(response, 400, "INVALID_SLUG")
        assert await (await client.get("/pricing")).get_data(as_text=True) == "cheap"


async def test_slugs_are_unique_across_orgs_and_case_sensitive(make_org, signup) -> None:
    org_a, alice = await make_org()
    org_b, bob = await make_org(await signup())
    created = await alice.client.post(
        links_path(org_a), json={"url": "https://a.example/", "slug": "promo"}
    )
    assert created.status_code == 201
    taken = await bob.client.post(
        links_path(org_b), json={"url": "https://b.example/", "slug": "promo"}
    )
    await assert_problem(taken, 409, "SLUG_TAKEN")
    other_case = await bob.client.post(
        links_path(org_b), json={"url": "https://b.example/", "slug": "Promo"}
    )
    assert other_case.status_code == 201


@pytest.mark.parametrize(
    "url",
    [
        "example.com",
        "/relative/path",
        "ftp://example.com/file",
        "javascript:alert(1)",
        "data:text/html,hi",
        "mailto:a@example.com",
        "http://",
        "https:///path-only",
        "http://user:pw@",
        "https://user:pw@example.com/",
        "https://bank.example@evil.example/",
        "https://exa mple.com/",
        "https://example.com/a b",
        " https://example.com/",
        "https://example.com/\r\nSet-Cookie: x=1",
        "https://example.com:99999/",
        "https://exa_mple..com/",
        "https://-bad-.example/",
        "https://[::1/",
        "https://example.com/" + "a" * 2030,
        "http://kurz.test/abc",
        "https://KURZ.test/abc",
        "",
    ],
)
async def test_urls_breaking_the_rules_are_invalid_url(make_org, url: str) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(links_path(org_id), json={"url": url})
    body = await assert_problem(response, 400, "INVALID_URL")
    assert body["errors"][0]["field"] == "url"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "HTTPS://Example.com/Path",
        "https://sub.example.co.uk:8443/a/b?c=d&e=f#frag",
        "https://192.0.2.10/",
        "https://[2001:db8::1]/x",
        "https://bücher.example/straße",
        "http://intranet/wiki",
        "https://example.com/" + "a" * (2048 - len("https://example.com/")),
    ],
)
async def test_urls_within_the_rules_are_accepted(make_org, url: str) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(links_path(org_id), json={"url": url})
    assert response.status_code == 201, await response.get_data(as_text=True)
    stored = (await response.get_json())["url"]
    assert stored.lower() == url.lower()


async def test_expires_at_must_be_a_future_time_with_an_offset(make_org) -> None:
    org_id, owner = await make_org()
    when = datetime.now(UTC) + timedelta(hours=2)
    response = await owner.client.post(
        links_path(org_id), json={"url": "https://a.example/", "expires_at": when.isoformat()}
    )
    assert response.status_code == 201
    assert (await response.get_json())["expires_at"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    past = "The expiry must be in the future."
    for bad, message in [
        ((datetime.now(UTC) - timedelta(seconds=5)).isoformat(), past),
        ("2020-01-01T00:00:00Z", past),
        ("2999-01-01T00:00:00", TIMESTAMP_MESSAGE),  # no offset: ambiguous
        ("tomorrow", TIMESTAMP_MESSAGE),
        (12345, TIMESTAMP_MESSAGE),
        (4102444800, TIMESTAMP_MESSAGE),  # 2100 as a Unix time: timestamps are strings
        ("9999-12-31T23:59:59-14:00", "The expiry is out of range."),  # past year 9999 in UTC
    ]:
        response = await owner.client.post(
            links_path(org_id), json={"url": "https://a.example/", "expires_at": bad}
        )
        body = await assert_problem(response, 400, "VALIDATION_ERROR")
        assert body["errors"] == [{"field": "expires_at", "message": message}], bad


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://a.example/", "unknown": 1},
        {"url": 42},
        {"title": "no url"},
        {"url": "https://a.example/", "title": "x" * 201},
        {"url": "https://a.example/", "title": "nul\u0000char"},
        {"url": "https://a.example/", "slug": 1234},
        ["https://a.example/"],
    ],
)
async def test_malformed_bodies_are_400_problems(make_org, body) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(links_path(org_id), json=body)
    await assert_problem(response, 400)


async def test_fifty_concurrent_random_creates_all_succeed_with_distinct_slugs(
    make_org,
) -> None:
    org_id, owner = await make_org()
    responses = await asyncio.gather(
        *(
            owner.client.post(links_path(org_id), json={"url": f"https://a.example/{n}"})
            for n in range(50)
        )
    )
    assert [response.status_code for response in responses] == [201] * 50
    slugs = {(await response.get_json())["slug"] for response in responses}
    assert len(slugs) == 50


async def test_two_concurrent_creates_of_one_custom_slug_give_201_and_409(make_org) -> None:
    org_id, owner = await make_org()
    for attempt in range(5):
        responses = await asyncio.gather(
            *(
                owner.client.post(
                    links_path(org_id),
                    json={"url": "https://a.example/", "slug": f"race{attempt}"},
                )
                for _ in range(2)
            )
        )
        assert sorted(response.status_code for response in responses) == [201, 409]


async def test_random_slug_collisions_are_retried(make_org, make_link, monkeypatch) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="Collide")
    sequence = iter(["Collide", "Collide", "Fresh01"])
    monkeypatch.setattr("kurz.blueprints.links.random_slug", lambda: next(sequence))
    link = await make_link(org_id, owner)
    assert link["slug"] == "Fresh01"


async def test_random_slugs_skip_reserved_words(make_org, make_link, monkeypatch) -> None:
    org_id, owner = await make_org()
    sequence = iter(["healthz", "ReadyZ", "Fine123"])
    monkeypatch.setattr("kurz.blueprints.links.random_slug", lambda: next(sequence))
    link = await make_link(org_id, owner)
    assert link["slug"] == "Fine123"


async def test_exhausted_random_slugs_are_a_503_not_a_500(make_org, make_link, monkeypatch):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="Always1")
    monkeypatch.setattr("kurz.blueprints.links.random_slug", lambda: "Always1")
    response = await owner.client.post(links_path(org_id), json={"url": "https://a.example/"})
    await assert_problem(response, 503, "SLUG_SPACE_EXHAUSTED")
    assert response.headers["Retry-After"]


# --- who may do what ------------------------------------------------------------------------


async def test_outsiders_get_404_and_strangers_401(make_org, signup, client) -> None:
    org_id, owner = await make_org()
    outsider = await signup()
    response = await outsider.client.post(links_path(org_id), json={"url": "https://a.example"})
    await assert_problem(response, 404, "ORG_NOT_FOUND")
    await assert_problem(await outsider.client.get(links_path(org_id)), 404, "ORG_NOT_FOUND")
    await assert_problem(await client.get(links_path(org_id)), 401, "NOT_AUTHENTICATED")
    await assert_problem(await owner.client.get(links_path("not-a-uuid")), 404, "ORG_NOT_FOUND")


async def test_links_of_another_org_are_not_found(make_org, make_link, signup) -> None:
    org_a, alice = await make_org()
    org_b, bob = await make_org(await signup())
    link = await make_link(org_a, alice)
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"title": "x"}} if method == "patch" else {}
        response = await getattr(bob.client, method)(links_path(org_b, link["slug"]), **kwargs)
        await assert_problem(response, 404, "LINK_NOT_FOUND")
    qr = await bob.client.get(links_path(org_b, link["slug"]) + "/qr")
    await assert_problem(qr, 404, "LINK_NOT_FOUND")


async def test_members_change_only_their_own_links_admins_any(
    make_org, add_member, make_link
) -> None:
    org_id, owner = await make_org()
    member = await add_member(org_id, owner, "member")
    other = await add_member(org_id, owner, "member")
    admin = await add_member(org_id, owner, "admin")
    mine = await make_link(org_id, member)
    theirs = await make_link(org_id, other)

    response = await member.client.patch(links_path(org_id, mine["slug"]), json={"title": "m"})
    assert response.status_code == 200
    response = await member.client.patch(links_path(org_id, theirs["slug"]), json={"title": "m"})
    await assert_problem(response, 403, "FORBIDDEN")
    await assert_problem(
        await member.client.delete(links_path(org_id, theirs["slug"])), 403, "FORBIDDEN"
    )
    # Members may still read every link of the org.
    assert (await member.client.get(links_path(org_id, theirs["slug"]))).status_code == 200

    response = await admin.client.patch(links_path(org_id, theirs["slug"]), json={"title": "a"})
    assert response.status_code == 200
    assert (await admin.client.delete(links_path(org_id, theirs["slug"]))).status_code == 204
    assert (await owner.client.delete(links_path(org_id, mine["slug"]))).status_code == 204


async def test_member_tokens_change_their_own_links_only(
    make_org, make_token, make_link, client
) -> None:
    org_id, owner = await make_org()
    token = await make_token(org_id, owner, "member")
    by_token = await make_link(org_id, token)
    by_owner = await make_link(org_id, owner)
    path = links_path(org_id, by_token["slug"])
    assert (await client.patch(path, json={"title": "t"}, headers=token)).status_code == 200
    response = await client.patch(
        links_path(org_id, by_owner["slug"]), json={"title": "t"}, headers=token
    )
    await assert_problem(response, 403, "FORBIDDEN")
    admin_token = await make_token(org_id, owner, "admin")
    response = await client.delete(links_path(org_id, by_owner["slug"]), headers=admin_token)
    assert response.status_code == 204


# --- edit and delete ------------------------------------------------------------------------


async def test_patch_changes_only_the_fields_sent_and_stamps_updated_at(
    make_org, make_link
) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, title="Old", expires_at=future(days=3))
    await asyncio.sleep(1.05)  # timestamps are answered to the second
    response = await owner.client.patch(
        links_path(org_id, link["slug"]),
        json={"url": "https://new.example/", "redirect_status": 307},
    )
    assert response.status_code == 200
    edited = await response.get_json()
    assert edited["url"] == "https://new.example/"
    assert edited["redirect_status"] == 307
    assert edited["title"] == "Old" and edited["expires_at"] == link["expires_at"]
    assert edited["created_at"] == link["created_at"]
    assert edited["updated_at"] > link["updated_at"]

    cleared = await owner.client.patch(
        links_path(org_id, link["slug"]), json={"title": None, "expires_at": None}
    )
    assert (await cleared.get_json())["title"] is None
    assert (await cleared.get_json())["expires_at"] is None


@pytest.mark.parametrize(
    "body, code",
    [
        ({"url": "ftp://x.example/"}, "INVALID_URL"),
        ({"url": None}, "INVALID_URL"),
        ({"disabled": None}, "VALIDATION_ERROR"),
        ({"disabled": "yes"}, "VALIDATION_ERROR"),
        ({"redirect_status": 303}, "VALIDATION_ERROR"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "VALIDATION_ERROR"),
        ({"expires_at": "9999-12-31T23:59:59-14:00"}, "VALIDATION_ERROR"),
        ({"slug": "renamed"}, "VALIDATION_ERROR"),
        ({"clicks": 0}, "VALIDATION_ERROR"),
    ],
)
async def test_patch_validates_like_create(make_org, make_link, body, code) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    response = await owner.client.patch(links_path(org_id, link["slug"]), json=body)
    await assert_problem(response, 400, code)


@pytest.mark.parametrize(
    "body, code",
    [
        ({"url": 5}, "INVALID_URL"),
        ({"slug": "abcdef"}, "INVALID_URL"),  # no url at all
        ({"url": "https://a.example/", "slug": 5}, "INVALID_SLUG"),
    ],
)
async def test_any_problem_with_url_or_slug_has_its_own_code(make_org, body, code) -> None:
    """API.md: anything but a valid url is INVALID_URL (wrong types and absence too)."""
    org_id, owner = await make_org()
    response = await owner.client.post(links_path(org_id), json=body)
    await assert_problem(response, 400, code)


async def test_every_change_of_a_link_is_audited(make_org, make_link, db) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    path = links_path(org_id, link["slug"])
    assert (await (await owner.client.patch(path, json={"disabled": True})).get_json())["disabled"]
    await owner.client.patch(path, json={"disabled": True})  # no change: nothing to record
    await owner.client.patch(path, json={"disabled": False})
    await owner.client.patch(path, json={"title": "Docs"})
    await owner.client.patch(path, json={"title": "Docs"})  # no change: nothing to record
    await owner.client.patch(path, json={"url": "https://example.org/new"})
    assert (await owner.client.delete(path)).status_code == 204
    rows = await db.fetch_all(
        """SELECT action, target, actor_id, detail::text AS detail FROM audit_log
            WHERE org_id = :org_id ORDER BY id""",
        {"org_id": org_id},
    )
    link_rows = [
        (row["action"], row["target"], json.loads(row["detail"]))
        for row in rows
        if row["action"][:5] == "link."
    ]
    slug = link["slug"]
    assert link_rows == [
        ("link.create", slug, {"url": "https://example.com/"}),
        ("link.disable", slug, {"url": "https://example.com/"}),
        ("link.enable", slug, {"url": "https://example.com/"}),
        (
            "link.update",
            slug,
            {"url": "https://example.com/", "changes": {"title": {"from": None, "to": "Docs"}}},
        ),
        (
            "link.update",
            slug,
            {
                "url": "https://example.org/new",
                "changes": {
                    "url": {"from": "https://example.com/", "to": "https://example.org/new"}
                },
            },
        ),
        ("link.delete", slug, {"url": "https://example.org/new"}),
    ]
    assert all(str(row["actor_id"]) == owner.id for row in rows if row["action"][:5] == "link.")


async def test_delete_is_gone_for_the_api_and_the_redirect_at_once(
    make_org, make_link, client
) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    assert (await client.get(f"/{link['slug']}")).status_code == 302  # now cached
    assert (await owner.client.delete(links_path(org_id, link["slug"]))).status_code == 204
    assert (await client.get(f"/{link['slug']}")).status_code == 404
    await assert_problem(
        await owner.client.get(links_path(org_id, link["slug"])), 404, "LINK_NOT_FOUND"
    )
    await assert_problem(
        await owner.client.delete(links_path(org_id, link["slug"])), 404, "LINK_NOT_FOUND"
    )


# --- list and search ------------------------------------------------------------------------


async def _page_through(client, org_id: str, limit: int, **params) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(links_path(org_id), query_string=query)
        assert response.status_code == 200, await response.get_data(as_text=True)
        body = await response.get_json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def _seed(db, org_id: str, user_id: str, count: int, same_time: bool = False) -> None:
    """Many links at once (with equal created_at if asked, to test the id tie-break)."""
    await db.execute(
        f"""INSERT INTO links (org_id, slug, url, created_by, created_at)
            SELECT :org_id, 'seed' || n, 'https://example.com/' || n, :user_id,
                   {"now()" if same_time else "now() - n * interval '1 second'"}
              FROM generate_series(1, {count}) AS n""",  # noqa: S608 - numbers from the test
        {"org_id": org_id, "user_id": user_id},
    )


async def test_list_pages_newest_first_without_gaps_or_duplicates(make_org, db) -> None:
    org_id, owner = await make_org()
    await _seed(db, org_id, owner.id, 23)
    await _seed_same_time(db, org_id, owner.id)
    pages = await _page_through(owner.client, org_id, limit=5)
    slugs = [link["slug"] for page in pages for link in page]
    assert len(slugs) == len(set(slugs)) == 23 + 7
    assert [len(page) for page in pages] == [5, 5, 5, 5, 5, 5]
    assert slugs[:7] == [f"same{n}" for n in range(7, 0, -1)]  # equal times: newest id first
    assert slugs[7:] == [f"seed{n}" for n in range(1, 24)]
    first = await (await owner.client.get(links_path(org_id))).get_json()
    assert len(first["items"]) == 30 and first["next_cursor"] is None
    assert set(first["items"][0]) == LINK_FIELDS


async def _seed_same_time(db, org_id: str, user_id: str) -> None:
    await db.execute(
        """INSERT INTO links (org_id, slug, url, created_by, created_at)
           SELECT :org_id, 'same' || n, 'https://example.com/', :user_id, now() + interval '1h'
             FROM generate_series(1, 7) AS n""",
        {"org_id": org_id, "user_id": user_id},
    )


async def test_links_created_while_paging_neither_repeat_nor_shift(make_org, db, make_link):
    org_id, owner = await make_org()
    await _seed(db, org_id, owner.id, 12)
    seen, cursor = [], None
    for round_ in range(3):
        query = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        body = await (await owner.client.get(links_path(org_id), query_string=query)).get_json()
        seen += [link["slug"] for link in body["items"]]
        cursor = body["next_cursor"]
        await make_link(org_id, owner, slug=f"during{round_}")  # newer than every page
    assert seen == [f"seed{n}" for n in range(1, 13)]
    assert cursor is None


async def test_list_limit_and_cursor_are_validated(make_org) -> None:
    org_id, owner = await make_org()
    for limit in ("0", "101", "-1", "ten"):
        response = await owner.client.get(links_path(org_id), query_string={"limit": limit})
        await assert_problem(response, 400, "VALIDATION_ERROR")
    out_of_range = [  # times that are past year 9999, or before year 1, in UTC
        base64.urlsafe_b64encode(raw.encode()).decode()
        for raw in ("9999-12-31T23:59:59-23:59|1", "0001-01-01T00:00:00+23:59|1")
    ]
    for cursor in ("garbage", "!!!", "bm90fGE", "MjAyNi0wMS0wMXww", *out_of_range):
        response = await owner.client.get(links_path(org_id), query_string={"cursor": cursor})
        await assert_problem(response, 400, "INVALID_CURSOR")
    response = await owner.client.get(links_path(org_id), query_string={"limit": "100"})
    assert response.status_code == 200


async def test_an_empty_query_value_is_checked_like_any_other(make_org, make_link) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner)
    response = await owner.client.get(links_path(org_id) + "?limit=")
    await assert_problem(response, 400, "VALIDATION_ERROR")
    response = await owner.client.get(links_path(org_id) + "?cursor=")
    await assert_problem(response, 400, "INVALID_CURSOR")
    response = await owner.client.get(links_path(org_id) + "?q=")  # any text, even none
    assert response.status_code == 200
    assert len((await response.get_json())["items"]) == 1


async def test_q_searches_slug_url_and_title_case_insensitively(make_org, make_link) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner, url="https://shop.example/Summer-Sale", slug="ss1")
    await make_link(org_id, owner, url="https://a.example/", slug="WinterPromo")
    await make_link(org_id, owner, url="https://b.example/", title="Quarterly REPORT", slug="rr9")
    await make_link(org_id, owner, url="https://c.example/", title="100%_real", slug="pct")
    await make_link(org_id, owner, url="https://c.example/", title="100x-real", slug="nopct")

    async def search(q: str) -> list[str]:
        response = await owner.client.get(links_path(org_id), query_string={"q": q})
        assert response.status_code == 200
        return sorted(link["slug"] for link in (await response.get_json())["items"])

    assert await search("summer-sale") == ["ss1"]
    assert await search("winterpromo") == ["WinterPromo"]
    assert await search("report") == ["rr9"]
    assert await search("100%_") == ["pct"]  # % and _ match themselves, not anything
    assert await search("zzz") == []
    assert len(await search("example")) == 5


async def test_q_only_searches_the_callers_org(make_org, make_link, signup) -> None:
    org_a, alice = await make_org()
    org_b, bob = await make_org(await signup())
    await make_link(org_a, alice, url="https://secret.example/")
    response = await bob.client.get(links_path(org_b), query_string={"q": "secret"})
    assert (await response.get_json())["items"] == []


async def test_items_carry_their_click_counts(make_org, make_link, db) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    await db.execute(
        """INSERT INTO link_clicks (link_id, org_id, clicks)
           SELECT id, org_id, 42 FROM links WHERE slug = :slug""",
        {"slug": link["slug"]},
    )
    body = await (await owner.client.get(links_path(org_id))).get_json()
    assert body["items"][0]["clicks"] == 42


async def test_search_uses_the_trigram_index(make_org, db) -> None:
    org_id, owner = await make_org()
    await _seed(db, org_id, owner.id, 2000)
    await db.execute("ANALYZE links")
    async with db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned
        plan = await db.fetch_all(
            f"EXPLAIN SELECT id FROM links WHERE {SEARCH_TEXT} ILIKE '%1234%'"  # noqa: S608
        )
    assert "links_search_idx" in " ".join(row[0] for row in plan)


# --- OpenAPI ----------------------------------------------------------------------------------


async def test_openapi_describes_link_bodies_and_errors(client) -> None:
    doc = await (await client.get("/openapi.json")).get_json()
    create = doc["paths"]["/api/v1/orgs/{org_id}/links"]["post"]
    assert {"201", "400", "409"} <= set(create["responses"])
    assert create["requestBody"]
    listed = doc["paths"]["/api/v1/orgs/{org_id}/links"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {"limit", "cursor", "q"}
    item = doc["paths"]["/api/v1/orgs/{org_id}/links/{slug}"]
    assert {"get", "patch", "delete"} <= set(item)
    assert "/{slug}" not in doc["paths"]


async def test_lone_surrogates_are_400_and_write_nothing(app, make_org) -> None:
    org_id, owner = await make_org()
    for body, code in (
        ('{"url": "https://a.example/\\udfff"}', "INVALID_URL"),
        ('{"url": "https://a.example/", "title": "\\ud800"}', "VALIDATION_ERROR"),
    ):
        response = await owner.client.post(
            links_path(org_id), data=body, headers={"Content-Type": "application/json"}
        )
        await assert_problem(response, 400, code)
    assert await services(app).db.fetch_val("SELECT count(*) FROM links") == 0


async def test_a_link_created_as_its_org_is_deleted_is_404(make_org, database_url) -> None:
    """The org goes between the request's authorisation and its insert."""
    org_id, owner = await make_org()
    other = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with other.transaction():
            await other.execute("DELETE FROM orgs WHERE id = $1::uuid", org_id)
            create = asyncio.create_task(
                owner.client.post(links_path(org_id), json={"url": "https://a.example/"})
            )
            deadline = time.monotonic() + 10
            while not await other.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            ):
                assert time.monotonic() < deadline, "the insert never waited for the org"
                await asyncio.sleep(0.02)
    finally:
        await other.close()
    await assert_problem(await create, 404, "ORG_NOT_FOUND")


async def test_cursors_are_sealed_to_their_orgs_list(make_org, make_link) -> None:
    first, owner = await make_org()
    second, _ = await make_org(owner)
    for _ in range(3):
        await make_link(first, owner)
        await make_link(second, owner)
    response = await owner.client.get(links_path(first), query_string={"limit": 1})
    cursor = (await response.get_json())["next_cursor"]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert not raw.isascii()  # ciphertext: neither the time nor the instance-wide id shows
    response = await owner.client.get(links_path(second), query_string={"cursor": cursor})
    await assert_problem(response, 400, "INVALID_CURSOR")
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    response = await owner.client.get(links_path(first), query_string={"cursor": tampered})
    await assert_problem(response, 400, "INVALID_CURSOR")
    response = await owner.client.get(links_path(first), query_string={"cursor": cursor})
    assert len((await response.get_json())["items"]) == 2
