import hashlib

import pytest

from kurz.services import services
from tests.support import assert_problem


async def test_the_secret_is_shown_once_and_stored_only_as_a_hash(app, make_org) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/tokens", json={"name": "CI", "role": "member"}
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert set(body) == {"id", "name", "role", "token", "created_at"}
    secret = body["token"]
    assert secret.startswith("kurz_") and len(secret) >= len("kurz_") + 43  # 32 bytes
    listing = await (await owner.client.get(f"/api/v1/orgs/{org_id}/tokens")).get_json()
    assert listing == {
        "items": [
            {
                "id": body["id"],
                "name": "CI",
                "role": "member",
                "created_at": body["created_at"],
                "last_used_at": None,
            }
        ]
    }
    assert secret not in str(listing)
    rows = await services(app).db.fetch_all("SELECT * FROM api_tokens")
    assert [row["secret_hash"] for row in rows] == [hashlib.sha256(secret.encode()).hexdigest()]
    assert secret not in str([dict(row) for row in rows])


async def test_a_token_acts_in_its_org_with_its_role(app, make_org, make_token) -> None:
    org_id, owner = await make_org()
    token = await make_token(org_id, owner, "member")
    client = app.test_client()
    assert (await client.get(f"/api/v1/orgs/{org_id}/members", headers=token)).status_code == 200
    response = await client.get(f"/api/v1/orgs/{org_id}/tokens", headers=token)
    assert response.status_code == 403  # tokens need admin
    listing = await (await owner.client.get(f"/api/v1/orgs/{org_id}/tokens")).get_json()
    assert listing["items"][0]["last_used_at"] is not None


async def test_revoking_takes_effect_on_the_next_request(app, make_org, make_token) -> None:
    org_id, owner = await make_org()
    token = await make_token(org_id, owner, "admin")
    client = app.test_client()
    url = f"/api/v1/orgs/{org_id}"
    assert (await client.get(url, headers=token)).status_code == 200
    (item,) = (await (await owner.client.get(f"{url}/tokens")).get_json())["items"]
    assert (await owner.client.delete(f"{url}/tokens/{item['id']}")).status_code == 204
    response = await client.get(url, headers=token)
    await assert_problem(response, 401, "INVALID_TOKEN")
    assert (await owner.client.delete(f"{url}/tokens/{item['id']}")).status_code == 404
    assert (await owner.client.delete(f"{url}/tokens/nonsense")).status_code == 404


async def test_members_cannot_manage_tokens(make_org, add_member, make_token) -> None:
    org_id, owner = await make_org()
    await make_token(org_id, owner)
    member = await add_member(org_id, owner)
    url = f"/api/v1/orgs/{org_id}/tokens"
    (item,) = (await (await owner.client.get(url)).get_json())["items"]
    assert (await member.client.get(url)).status_code == 403
    assert (await member.client.post(url, json={"name": "x", "role": "member"})).status_code == 403
    assert (await member.client.delete(f"{url}/{item['id']}")).status_code == 403
    assert len((await (await owner.client.get(url)).get_json())["items"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "role": "owner"},
        {"name": "x"},
        {"name": "", "role": "member"},
        {"name": "x" * 101, "role": "member"},
        {"name": "x", "role": "member", "expires": 3},
        {"name": ["x"], "role": "member"},
    ],
)
async def test_bad_token_bodies_are_400_and_write_nothing(make_org, body) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(f"/api/v1/orgs/{org_id}/tokens", json=body)
    await assert_problem(response, 400)
    listing = await (await owner.client.get(f"/api/v1/orgs/{org_id}/tokens")).get_json()
    assert listing["items"] == []


async def test_a_token_acts_with_at_most_its_creators_current_role(
    app, make_org, add_member, make_token
) -> None:
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    token = await make_token(org_id, admin, "admin")
    client = app.test_client()
    url = f"/api/v1/orgs/{org_id}"
    assert (await client.get(f"{url}/audit", headers=token)).status_code == 200
    response = await owner.client.patch(f"{url}/members/{admin.id}", json={"role": "member"})
    assert response.status_code == 200
    response = await client.get(f"{url}/audit", headers=token)
    assert response.status_code == 403  # acts as the member its creator now is
    body = {"name": "x", "role": "admin"}
    response = await client.post(f"{url}/tokens", json=body, headers=token)
    assert response.status_code == 403
    assert (await client.get(f"{url}/links", headers=token)).status_code == 200
    response = await owner.client.patch(f"{url}/members/{admin.id}", json={"role": "admin"})
    assert response.status_code == 200
    assert (await client.get(f"{url}/audit", headers=token)).status_code == 200


async def test_a_token_stops_working_when_its_creator_leaves(
    app, make_org, add_member, make_token
) -> None:
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    token = await make_token(org_id, admin, "admin")
    client = app.test_client()
    url = f"/api/v1/orgs/{org_id}"
    assert (await owner.client.delete(f"{url}/members/{admin.id}")).status_code == 204
    for method, path, body in [
        ("GET", "/audit", None),
        ("POST", "/members", {"email": admin.email, "role": "admin"}),
        ("POST", "/tokens", {"name": "again", "role": "admin"}),
        ("GET", "/links", None),
    ]:
        response = await client.open(url + path, method=method, json=body, headers=token)
        await assert_problem(response, 401, "INVALID_TOKEN")
    members = await (await owner.client.get(f"{url}/members")).get_json()
    assert admin.id not in [member["user_id"] for member in members["items"]]


async def test_a_token_stops_working_when_its_creator_is_deleted(
    app, db, make_org, add_member, make_token
) -> None:
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    token = await make_token(org_id, admin, "admin")
    await db.execute("DELETE FROM users WHERE id = :id", {"id": admin.id})
    response = await app.test_client().get(f"/api/v1/orgs/{org_id}", headers=token)
    assert response.status_code == 401


async def test_a_token_made_by_a_token_belongs_to_the_person_behind_it(
    app, db, make_org, add_member, make_token
) -> None:
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    token = await make_token(org_id, admin, "admin")
    client = app.test_client()
    url = f"/api/v1/orgs/{org_id}"
    response = await client.post(
        f"{url}/tokens", json={"name": "child", "role": "admin"}, headers=token
    )
    assert response.status_code == 201
    child = {"Authorization": f"Bearer {(await response.get_json())['token']}"}
    creator = await db.fetch_val(
        "SELECT created_by FROM api_tokens WHERE name = 'child' AND org_id = :org_id",
        {"org_id": org_id},
    )
    assert str(creator) == admin.id
    response = await owner.client.patch(f"{url}/members/{admin.id}", json={"role": "member"})
    assert response.status_code == 200
    assert (await client.get(f"{url}/audit", headers=child)).status_code == 403
    assert (await owner.client.delete(f"{url}/members/{admin.id}")).status_code == 204
    assert (await client.get(url, headers=child)).status_code == 401


async def test_a_demotion_while_a_token_acts_is_seen_under_the_lock(
    app, make_org, add_member, make_token
) -> None:
    """Member changes re-read the caller's role under the org lock; for a token, its creator's."""
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    member = await add_member(org_id, owner, "member")
    token = await make_token(org_id, admin, "admin")
    url = f"/api/v1/orgs/{org_id}/members/{member.id}"
    client = app.test_client()
    response = await client.patch(url, json={"role": "member"}, headers=token)
    assert response.status_code == 200
    await owner.client.patch(f"/api/v1/orgs/{org_id}/members/{admin.id}", json={"role": "member"})
    response = await client.delete(url, headers=token)
    assert response.status_code == 403
