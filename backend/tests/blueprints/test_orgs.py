import re

import pytest

from kurz.services import services
from tests.support import assert_problem

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_the_creator_becomes_owner(make_org, signup) -> None:
    account = await signup()
    response = await account.client.post("/api/v1/orgs", json={"name": "  Initech  "})
    assert response.status_code == 201
    body = await response.get_json()
    assert body == {"id": body["id"], "name": "Initech", "role": "owner"}
    response = await account.client.get(f"/api/v1/orgs/{body['id']}")
    org = await response.get_json()
    assert org["role"] == "owner" and org["name"] == "Initech"
    assert ISO_UTC.match(org["created_at"])


async def test_the_list_holds_only_the_callers_orgs(make_org, signup, add_member) -> None:
    mine, me = await make_org(name="Mine")
    theirs, them = await make_org(name="Theirs")
    shared, _ = await make_org(them, name="Shared")
    await add_member(shared, them)  # someone else
    response = await them.client.post(
        f"/api/v1/orgs/{shared}/members", json={"email": me.email, "role": "admin"}
    )
    assert response.status_code == 201
    items = (await (await me.client.get("/api/v1/orgs")).get_json())["items"]
    assert items == [
        {"id": mine, "name": "Mine", "role": "owner"},
        {"id": shared, "name": "Shared", "role": "admin"},
    ]


async def test_tokens_cannot_list_or_create_orgs(app, make_org, make_token) -> None:
    org_id, owner = await make_org()
    token = await make_token(org_id, owner, "admin")
    client = app.test_client()
    assert (await client.get("/api/v1/orgs", headers=token)).status_code == 401
    assert (
        await client.post("/api/v1/orgs", json={"name": "X"}, headers=token)
    ).status_code == 401
    # but it reads its own org, with its own role
    org = await (await client.get(f"/api/v1/orgs/{org_id}", headers=token)).get_json()
    assert org["role"] == "admin"


async def test_admins_rename_and_members_may_not(make_org, add_member) -> None:
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    member = await add_member(org_id, owner, "member")
    response = await admin.client.patch(f"/api/v1/orgs/{org_id}", json={"name": "Renamed"})
    assert response.status_code == 200
    assert (await response.get_json())["name"] == "Renamed"
    response = await member.client.patch(f"/api/v1/orgs/{org_id}", json={"name": "Nope"})
    assert response.status_code == 403
    org = await (await owner.client.get(f"/api/v1/orgs/{org_id}")).get_json()
    assert org["name"] == "Renamed"


async def test_only_owners_delete_and_everything_goes(app, make_org, add_member, make_token):
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    token = await make_token(org_id, owner, "admin")
    assert (await admin.client.delete(f"/api/v1/orgs/{org_id}")).status_code == 403
    client = app.test_client()
    assert (await client.delete(f"/api/v1/orgs/{org_id}", headers=token)).status_code == 403
    assert (await owner.client.delete(f"/api/v1/orgs/{org_id}")).status_code == 204
    assert (await owner.client.get(f"/api/v1/orgs/{org_id}")).status_code == 404
    assert (await admin.client.get(f"/api/v1/orgs/{org_id}")).status_code == 404
    assert (await client.get(f"/api/v1/orgs/{org_id}", headers=token)).status_code == 401
    assert (await (await owner.client.get("/api/v1/orgs")).get_json())["items"] == []


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "name", "This field is required."),
        ({"name": ""}, "name", "This must not be empty."),
        ({"name": "   "}, "name", "This must not be empty."),
        ({"name": "x" * 101}, "name", "This may have at most 100 characters."),
        ({"name": 7}, "name", "Input should be a valid string"),
        ({"name": "A", "x": 1}, "x", "This field is not accepted here."),
        ({"name": "nul\u0000char"}, "body", "Text may not contain NUL (\\u0000) characters."),
    ],
)
async def test_bad_org_bodies_are_400_name_the_field_and_write_nothing(
    app, signup, body, field, message
) -> None:
    account = await signup()
    response = await account.client.post("/api/v1/orgs", json=body)
    await assert_problem(response, 400)
    assert (await response.get_json())["errors"] == [{"field": field, "message": message}]
    assert await services(app).db.fetch_val("SELECT count(*) FROM orgs") == 0


async def test_bad_rename_bodies_change_nothing(make_org) -> None:
    org_id, owner = await make_org()
    for body in ({"name": ""}, {"name": None}, {"title": "x"}):
        response = await owner.client.patch(f"/api/v1/orgs/{org_id}", json=body)
        assert response.status_code == 400
    org = await (await owner.client.get(f"/api/v1/orgs/{org_id}")).get_json()
    assert org["name"] == "Acme"


async def test_a_body_that_is_not_utf8_is_400_and_writes_nothing(app, signup) -> None:
    account = await signup()
    response = await account.client.post(
        "/api/v1/orgs", data=b'{"name": "\xd9\x01"}', headers={"Content-Type": "application/json"}
    )
    await assert_problem(response, 400, "MALFORMED_REQUEST")
    assert await services(app).db.fetch_val("SELECT count(*) FROM orgs") == 0


async def test_json_nested_too_deep_is_400(app, signup) -> None:
    account = await signup()
    body = '{"name": ' + "[" * 30_000 + "]" * 30_000 + "}"
    response = await account.client.post(
        "/api/v1/orgs", data=body, headers={"Content-Type": "application/json"}
    )
    await assert_problem(response, 400, "MALFORMED_REQUEST")
    assert await services(app).db.fetch_val("SELECT count(*) FROM orgs") == 0
