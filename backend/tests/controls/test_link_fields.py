"""The link controls as the links API takes and answers them (the redirects are tested apart)."""

import json

import pytest

from kurz.passwords import LINK_PASSWORD_COST
from tests.support import assert_problem


def links_path(org_id: str, slug: str = "") -> str:
    return f"/api/v1/orgs/{org_id}/links" + (f"/{slug}" if slug else "")


RULES = [
    {"country": "de", "url": "https://example.de/"},
    {"device": "mobile", "os": "iOS", "url": "https://apps.apple.com/app/x"},
]


async def test_a_link_answers_its_controls(make_org, db) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(
        links_path(org_id),
        json={
            "url": "https://example.com/",
            "slug": "guarded",
            "password": "open sesame",
            "max_clicks": 50,
            "expired_url": "https://example.com/over",
            "rules": RULES,
        },
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    link = await response.get_json()
    assert link["password_protected"] is True
    assert link["max_clicks"] == 50
    assert link["clicks_remaining"] == 50
    assert link["expired_url"] == "https://example.com/over"
    assert link["rules"] == [
        {"country": "DE", "url": "https://example.de/"},
        {"device": "mobile", "os": "iOS", "url": "https://apps.apple.com/app/x"},
    ]
    text = json.dumps(link)
    assert "open sesame" not in text and "password_hash" not in text
    # Stored as a bcrypt hash at the cheaper cost, never as typed.
    stored = await db.fetch_val("SELECT password_hash FROM links WHERE slug = 'guarded'")
    assert stored.startswith(f"$2b${LINK_PASSWORD_COST:02d}$")
    read = await (await owner.client.get(links_path(org_id, "guarded"))).get_json()
    assert read == link


async def test_a_plain_link_has_no_controls(make_org, make_link) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    assert link["password_protected"] is False
    assert link["max_clicks"] is None and link["clicks_remaining"] is None
    assert link["expired_url"] is None
    assert link["rules"] == []


async def test_patch_changes_and_removes_controls(make_org, make_link, db) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="edited", password="first", max_clicks=3)
    first = await db.fetch_val("SELECT password_hash FROM links WHERE slug = 'edited'")
    response = await owner.client.patch(
        links_path(org_id, "edited"),
        json={"password": "second", "max_clicks": 10, "rules": RULES[:1]},
    )
    link = await response.get_json()
    assert link["password_protected"] is True and link["max_clicks"] == 10
    assert link["rules"] == [{"country": "DE", "url": "https://example.de/"}]
    assert await db.fetch_val("SELECT password_hash FROM links WHERE slug = 'edited'") != first
    # Absent fields stay as they are.
    link = await (
        await owner.client.patch(links_path(org_id, "edited"), json={"title": "T"})
    ).get_json()
    assert link["password_protected"] is True and link["max_clicks"] == 10
    response = await owner.client.patch(
        links_path(org_id, "edited"),
        json={"password": None, "max_clicks": None, "expired_url": None, "rules": []},
    )
    link = await response.get_json()
    assert link["password_protected"] is False
    assert link["max_clicks"] is None and link["clicks_remaining"] is None
    assert link["rules"] == []
    assert await db.fetch_val("SELECT password_hash FROM links WHERE slug = 'edited'") is None


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"password": "abc"}, "PASSWORD_TOO_SHORT", "password"),
        ({"password": "x" * 73}, "PASSWORD_TOO_LONG", "password"),
        ({"password": "é" * 37}, "PASSWORD_TOO_LONG", "password"),  # 74 bytes
        ({"max_clicks": 0}, "VALIDATION_ERROR", "max_clicks"),
        ({"max_clicks": 10**9 + 1}, "VALIDATION_ERROR", "max_clicks"),
        ({"max_clicks": "5"}, "VALIDATION_ERROR", "max_clicks"),
        ({"expired_url": "ftp://example.com/"}, "INVALID_URL", "expired_url"),
        ({"expired_url": "http://kurz.test/other"}, "INVALID_URL", "expired_url"),
        ({"rules": [{"os": "iOS", "url": "http://kurz.test/x"}]}, "INVALID_URL", "rules.0.url"),
        ({"rules": [{"url": "https://example.com/"}]}, "VALIDATION_ERROR", "rules.0"),
        ({"rules": [{"country": "DEU", "url": "https://a.example/"}]}, None, "rules.0.country"),
        ({"rules": [{"device": "watch", "url": "https://a.example/"}]}, None, "rules.0.device"),
        ({"rules": [{"os": "iOS", "url": "https://a.example/", "x": 1}]}, None, "rules.0.x"),
        ({"rules": [{"os": "iOS", "url": "https://a.example/"}] * 21}, None, "rules"),
    ],
)
async def test_bad_controls_are_refused_and_nothing_is_stored(
    make_org, db, fields, code, field
) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(
        links_path(org_id), json={"url": "https://example.com/", **fields}
    )
    await assert_problem(response, 400, code or "VALIDATION_ERROR", field=field)
    assert await db.fetch_val("SELECT count(*) FROM links") == 0


async def test_patch_with_a_bad_control_changes_nothing(make_org, make_link) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="kept", max_clicks=5)
    response = await owner.client.patch(
        links_path(org_id, "kept"), json={"max_clicks": 7, "password": "no"}
    )
    await assert_problem(response, 400, "PASSWORD_TOO_SHORT", field="password")
    link = await (await owner.client.get(links_path(org_id, "kept"))).get_json()
    assert link["max_clicks"] == 5 and link["password_protected"] is False
