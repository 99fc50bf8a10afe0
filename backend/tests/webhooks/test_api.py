"""The webhook routes: endpoints, validation, SSRF refusals, roles, deliveries and paging."""

from dataclasses import replace

import pytest

from kurz.services import services
from tests.support import assert_problem

WEBHOOK_FIELDS = {"id", "url", "events", "description", "enabled", "created_at", "disabled_reason"}
DELIVERY_FIELDS = {
    "id",
    "event_id",
    "type",
    "status",
    "attempts",
    "response_status",
    "last_attempt_at",
    "next_attempt_at",
}


def hooks(org_id: str, rest: str = "") -> str:
    return f"/api/v1/orgs/{org_id}/webhooks{rest}"


async def test_an_admin_manages_endpoints_and_sees_the_secret_once(make_org, receiver) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(
        hooks(org_id),
        json={
            "url": receiver.url,
            "events": ["link.created", "link.clicked", "link.created"],
            "description": "CRM",
        },
    )
    assert response.status_code == 201
    created = await response.get_json()
    assert set(created) == WEBHOOK_FIELDS | {"secret"}
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["events"] == ["link.created", "link.clicked"]
    assert (created["enabled"], created["disabled_reason"]) == (True, None)
    assert created["description"] == "CRM"

    listed = await (await owner.client.get(hooks(org_id))).get_json()
    assert [set(item) for item in listed["items"]] == [WEBHOOK_FIELDS]
    assert listed["items"][0]["id"] == created["id"]

    response = await owner.client.patch(
        hooks(org_id, f"/{created['id']}"),
        json={"events": ["member.added"], "enabled": False, "description": None},
    )
    assert response.status_code == 200
    changed = await response.get_json()
    assert (changed["events"], changed["enabled"], changed["description"]) == (
        ["member.added"],
        False,
        None,
    )
    assert changed["url"] == receiver.url

    response = await owner.client.delete(hooks(org_id, f"/{created['id']}"))
    assert response.status_code == 204
    assert (await (await owner.client.get(hooks(org_id))).get_json())["items"] == []
    response = await owner.client.delete(hooks(org_id, f"/{created['id']}"))
    await assert_problem(response, 404, "WEBHOOK_NOT_FOUND")


async def test_members_and_strangers_are_refused(make_org, add_member, receiver) -> None:
    org_id, owner = await make_org()
    member = await add_member(org_id, owner, "member")
    other_org, stranger = await make_org()
    body = {"url": receiver.url, "events": ["link.created"]}
    assert (await member.client.post(hooks(org_id), json=body)).status_code == 403
    assert (await member.client.get(hooks(org_id))).status_code == 403
    assert (await stranger.client.get(hooks(org_id))).status_code == 404
    response = await owner.client.post(hooks(org_id), json=body)
    webhook_id = (await response.get_json())["id"]
    # Another org's admin cannot reach it through their own org either.
    for method, path in [
        ("patch", f"/{webhook_id}"),
        ("delete", f"/{webhook_id}"),
        ("post", f"/{webhook_id}/test"),
        ("get", f"/{webhook_id}/deliveries"),
        ("post", f"/{webhook_id}/rotate-secret"),
    ]:
        kwargs = {"json": {"enabled": False}} if method == "patch" else {}
        response = await getattr(stranger.client, method)(hooks(other_org, path), **kwargs)
        await assert_problem(response, 404, "WEBHOOK_NOT_FOUND")


@pytest.mark.parametrize(
    "body, field, code",
    [
        ({"events": ["link.created"]}, "url", "INVALID_URL"),
        ({"url": "ftp://example.com/", "events": ["link.created"]}, "url", "INVALID_URL"),
        ({"url": "https://u:p@example.com/", "events": ["link.created"]}, "url", "INVALID_URL"),
        ({"url": "http://127.0.0.1:1/", "events": []}, "events", "VALIDATION_ERROR"),
        ({"url": "http://127.0.0.1:1/", "events": ["link.exploded"]}, "events.0", None),
        ({"url": "http://127.0.0.1:1/", "events": "link.created"}, "events", None),
        (
            {"url": "http://127.0.0.1:1/", "events": ["link.created"], "secret": "x"},
            "secret",
            None,
        ),
    ],
)
async def test_invalid_bodies_are_refused(make_org, db, body, field, code) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(hooks(org_id), json=body)
    problem = await assert_problem(response, 400, code or "VALIDATION_ERROR")
    assert problem["errors"][0]["field"] == field
    assert await db.fetch_val("SELECT count(*) FROM webhooks") == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",  # loopback
        "http://localhost:8080/hook",  # a name of loopback
        "http://[::1]/hook",  # IPv6 loopback
        "http://10.1.2.3/hook",  # private
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://[fd00::1]/hook",  # IPv6 unique local
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://[fe80::1]/hook",  # IPv6 link-local
        "http://224.0.0.1/hook",  # multicast
        "http://[ff02::1]/hook",
        "http://0.0.0.0/hook",  # unspecified
        "http://[::]/hook",
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "http://[::ffff:127.0.0.1]/hook",  # IPv4 loopback, IPv6-mapped
        "http://no-such-host.invalid/hook",  # resolves to nothing
    ],
)
async def test_non_public_addresses_are_refused(app, make_org, db, url) -> None:
    services(app).settings = replace(services(app).settings, webhooks_allow_private=False)
    org_id, owner = await make_org()
    response = await owner.client.post(
        hooks(org_id), json={"url": url, "events": ["link.created"]}
    )
    await assert_problem(response, 400, "INVALID_URL")
    assert await db.fetch_val("SELECT count(*) FROM webhooks") == 0


async def test_a_changed_url_is_checked_too(app, make_org, make_webhook) -> None:
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["link.created"])
    services(app).settings = replace(services(app).settings, webhooks_allow_private=False)
    response = await owner.client.patch(
        hooks(org_id, f"/{webhook['id']}"), json={"url": "http://10.0.0.1/"}
    )
    await assert_problem(response, 400, "INVALID_URL")


async def test_production_accepts_https_only(app, make_org) -> None:
    services(app).settings = replace(services(app).settings, env="production")
    org_id, owner = await make_org()
    response = await owner.client.post(
        hooks(org_id), json={"url": "http://93.184.215.14/", "events": ["link.created"]}
    )
    await assert_problem(response, 400, "INVALID_URL")


async def test_the_secret_is_stored_encrypted(make_org, make_webhook, db) -> None:
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["link.created"])
    stored = await db.fetch_val("SELECT secret FROM webhooks")
    assert webhook["secret"] not in stored and webhook["secret"][6:] not in stored


async def test_deliveries_are_paged_newest_first(make_org, make_webhook, deliver) -> None:
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["link.created"])
    for number in range(3):
        await owner.client.post(
            f"/api/v1/orgs/{org_id}/links", json={"url": f"https://example.com/{number}"}
        )
    await deliver()
    path = hooks(org_id, f"/{webhook['id']}/deliveries")
    first = await (await owner.client.get(f"{path}?limit=2")).get_json()
    assert [set(item) >= DELIVERY_FIELDS for item in first["items"]] == [True, True]
    second = await (
        await owner.client.get(f"{path}?limit=2&cursor={first['next_cursor']}")
    ).get_json()
    assert second["next_cursor"] is None
    items = first["items"] + second["items"]
    assert [int(item["id"]) for item in items] == sorted(
        (int(i["id"]) for i in items), reverse=True
    )
    assert {item["status"] for item in items} == {"delivered"}
    assert {(item["attempts"], item["response_status"]) for item in items} == {(1, 200)}
    response = await owner.client.get(f"{path}?cursor=nonsense")
    await assert_problem(response, 400, "INVALID_CURSOR")
    response = await owner.client.post(f"{path}/123456789/retry")
    await assert_problem(response, 404, "DELIVERY_NOT_FOUND")
