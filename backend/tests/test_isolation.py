"""Orgs are isolated, and roles are enforced, on every org-scoped route.

The route list comes from the app's own URL map, so routes added later (links, stats, QR, ...)
are covered without touching this file; a new kind of path parameter fails loudly until a
resource of org B is provided for it below.
"""

import re

import pytest

from kurz.app import create_app
from kurz.config import Settings
from kurz.services import services

ORG_SCOPED = "/api/v1/orgs/<org_id>"
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
# The whole state an org-scoped request could change, minus the token use stamp.
SNAPSHOT = {
    "orgs": "SELECT id, name FROM orgs ORDER BY id",
    "members": "SELECT org_id, user_id, role FROM members ORDER BY org_id, user_id",
    "invitations": "SELECT org_id, email, role FROM invitations ORDER BY org_id, email",
    "tokens": "SELECT id, org_id, name, role FROM api_tokens ORDER BY id",
    "links": "SELECT * FROM links ORDER BY id",
    "domains": "SELECT * FROM domains ORDER BY id",
    "tags": "SELECT * FROM tags ORDER BY id",
    "webhooks": "SELECT * FROM webhooks ORDER BY id",
    "deliveries": "SELECT * FROM webhook_deliveries ORDER BY id",
    "audit": "SELECT count(*) FROM audit_log",
}


def org_routes() -> list[tuple[str, str]]:
    app = create_app(Settings())
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule == ORG_SCOPED or rule.rule.startswith(ORG_SCOPED + "/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


ROUTES = org_routes()


async def snapshot(app) -> dict:
    db = services(app).db
    return {name: [dict(row) for row in await db.fetch_all(sql)] for name, sql in SNAPSHOT.items()}


async def send(client, method: str, path: str, headers: dict | None = None):
    body = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
    return await client.open(path, method=method, headers=headers or {}, **body)


@pytest.fixture
async def org_b(app, make_org, add_member, make_token) -> dict[str, str]:
    """Org B with one resource for every kind of path parameter."""
    org_id, owner = await make_org(name="B")
    member = await add_member(org_id, owner, "member")
    await make_token(org_id, owner, "member")
    tokens = await (await owner.client.get(f"/api/v1/orgs/{org_id}/tokens")).get_json()
    await owner.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": "invited@example.com", "role": "member"}
    )
    # Directly in the table, so this does not depend on the links API's details.
    await services(app).db.execute(
        "INSERT INTO links (org_id, slug, url, created_by) VALUES (:org_id, 'b-link', "
        "'https://example.com/b', :user_id)",
        {"org_id": org_id, "user_id": owner.id},
    )
    await services(app).db.execute(
        "INSERT INTO domains (org_id, hostname, verification_value) "
        "VALUES (:org_id, 'go.b-org.example', 'b')",
        {"org_id": org_id},
    )
    await services(app).db.execute(
        "INSERT INTO tags (org_id, name, color) VALUES (:org_id, 'b-tag', '#123456')",
        {"org_id": org_id},
    )
    webhook = await services(app).db.fetch_one(
        """WITH webhook AS (
               INSERT INTO webhooks (org_id, url, events, secret)
               VALUES (:org_id, 'https://example.com/hook', '{link.created}', 'x') RETURNING id
           ), event AS (
               INSERT INTO webhook_events (org_id, type, payload)
               VALUES (:org_id, 'link.created', '{}') RETURNING id
           )
           INSERT INTO webhook_deliveries (webhook_id, event_id, status)
           SELECT webhook.id, event.id, 'failed' FROM webhook, event
           RETURNING webhook_id, id""",
        {"org_id": org_id},
    )
    import_id = await services(app).db.fetch_val(
        "INSERT INTO imports (org_id, status) VALUES (:org_id, 'done') RETURNING id",
        {"org_id": org_id},
    )
    return {
        "org_id": org_id,
        "hostname": "go.b-org.example",
        "name": "b-tag",
        "webhook_id": str(webhook["webhook_id"]),
        "delivery_id": str(webhook["id"]),
        "import_id": str(import_id),
        "user_id": member.id,
        "token_id": tokens["items"][0]["id"],
        "email": "invited@example.com",
        "slug": "b-link",
    }


def fill(rule: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            pytest.fail(f"{rule}: give org B a resource for <{name}> in the org_b fixture")
        return values[name]

    return PARAMETER.sub(value, rule)


def test_the_route_list_is_generated() -> None:
    assert ("GET", "/api/v1/orgs/<org_id>/members") in ROUTES
    assert ("DELETE", "/api/v1/orgs/<org_id>/tokens/<token_id>") in ROUTES


@pytest.mark.parametrize("caller", ["session", "token"])
async def test_org_a_gets_404_on_every_route_of_org_b(
    app, make_org, make_token, org_b, caller
) -> None:
    org_a, owner_a = await make_org(name="A")
    if caller == "session":
        client, headers = owner_a.client, {}
    else:
        client, headers = app.test_client(), await make_token(org_a, owner_a, "admin")
    before = await snapshot(app)
    wrong: list[str] = []
    for method, rule in ROUTES:
        response = await send(client, method, fill(rule, org_b), headers)
        body = await response.get_json()
        if response.status_code != 404 or body.get("code") != "ORG_NOT_FOUND":
            wrong.append(f"{method} {rule}: {response.status_code} {body}")
    assert wrong == []
    assert await snapshot(app) == before


# (role, method, path under the org, body): actions the role may not take.
MEMBER_FORBIDDEN = [
    ("PATCH", "", {"name": "Taken over"}),
    ("DELETE", "", None),
    ("POST", "/members", {"email": "new@example.com", "role": "member"}),
    ("PATCH", "/members/{member}", {"role": "admin"}),
    ("DELETE", "/members/{other}", None),
    ("DELETE", "/invitations/invited@example.com", None),
    ("GET", "/tokens", None),
    ("POST", "/tokens", {"name": "mine", "role": "member"}),
    ("DELETE", "/tokens/{token_id}", None),
    ("GET", "/audit", None),
]
ADMIN_FORBIDDEN = [
    ("DELETE", "", None),
    ("POST", "/members", {"email": "new@example.com", "role": "admin"}),
    ("POST", "/members", {"email": "new@example.com", "role": "owner"}),
    ("PATCH", "/members/{member}", {"role": "admin"}),
    ("PATCH", "/members/{admin}", {"role": "member"}),
    ("PATCH", "/members/{owner}", {"role": "member"}),
    ("DELETE", "/members/{owner}", None),
    ("DELETE", "/members/{other_admin}", None),
    ("DELETE", "/invitations/boss@example.com", None),
]


@pytest.mark.parametrize(
    ("role", "caller"),
    [("member", "session"), ("member", "token"), ("admin", "session"), ("admin", "token")],
)
async def test_forbidden_actions_are_403_and_change_nothing(
    app, make_org, add_member, make_token, role, caller
) -> None:
    org_id, owner = await make_org()
    member = await add_member(org_id, owner, "member")
    admin = await add_member(org_id, owner, "admin")
    other = await add_member(org_id, owner, "member")
    other_admin = await add_member(org_id, owner, "admin")
    await make_token(org_id, owner, "member")
    tokens = await (await owner.client.get(f"/api/v1/orgs/{org_id}/tokens")).get_json()
    for email, invited_role in (("invited@example.com", "member"), ("boss@example.com", "admin")):
        await owner.client.post(
            f"/api/v1/orgs/{org_id}/members", json={"email": email, "role": invited_role}
        )
    if caller == "session":
        acting = {"member": member, "admin": admin}[role]
        client, headers = acting.client, {}
    else:
        client, headers = app.test_client(), await make_token(org_id, owner, role)
    ids = {
        "member": member.id,
        "admin": admin.id,
        "owner": owner.id,
        "other": other.id,
        "other_admin": other_admin.id,
        "token_id": tokens["items"][0]["id"],
    }
    before = await snapshot(app)
    wrong: list[str] = []
    for method, path, body in MEMBER_FORBIDDEN if role == "member" else ADMIN_FORBIDDEN:
        url = f"/api/v1/orgs/{org_id}" + path.format(**ids)
        kwargs = {} if body is None else {"json": body}
        response = await client.open(url, method=method, headers=headers, **kwargs)
        if response.status_code != 403:
            wrong.append(f"{method} {path} {body}: {response.status_code}")
    assert wrong == []
    assert await snapshot(app) == before
