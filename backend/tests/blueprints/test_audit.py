import base64
import uuid

import asyncpg
import pytest

from kurz.services import services
from tests.support import assert_problem


async def audit(account, org_id: str, **query) -> dict:
    response = await account.client.get(f"/api/v1/orgs/{org_id}/audit", query_string=query)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def test_changes_are_recorded_newest_first(app, make_org, signup, make_token) -> None:
    org_id, owner = await make_org()
    base = f"/api/v1/orgs/{org_id}"
    joiner = await signup()
    await owner.client.post(f"{base}/members", json={"email": joiner.email, "role": "member"})
    await owner.client.patch(f"{base}/members/{joiner.id}", json={"role": "admin"})
    await owner.client.delete(f"{base}/members/{joiner.id}")
    await owner.client.post(f"{base}/members", json={"email": "inv@example.com", "role": "member"})
    await owner.client.delete(f"{base}/invitations/inv@example.com")
    token = await make_token(org_id, owner, "admin")
    await app.test_client().patch(base, json={"name": "Renamed"}, headers=token)
    (item,) = (await (await owner.client.get(f"{base}/tokens")).get_json())["items"]
    await owner.client.delete(f"{base}/tokens/{item['id']}")

    items = (await audit(owner, org_id))["items"]
    assert [entry["action"] for entry in items] == [
        "token.revoke",
        "org.rename",
        "token.create",
        "invitation.delete",
        "invitation.create",
        "member.remove",
        "member.role",
        "member.add",
        "org.create",
    ]
    by_action = {entry["action"]: entry for entry in items}
    assert by_action["member.role"]["actor"] == {"id": owner.id, "email": owner.email}
    assert by_action["member.role"]["target"] == joiner.email
    assert by_action["member.role"]["detail"] == {
        "user_id": joiner.id,
        "from": "member",
        "to": "admin",
    }
    renamed = by_action["org.rename"]
    assert renamed["actor"] is None and renamed["token_id"] == item["id"]
    assert renamed["detail"] == {"from": "Acme"}
    assert set(items[0]) == {
        "id",
        "at",
        "actor",
        "token_id",
        "token_name",
        "action",
        "target",
        "detail",
    }


async def test_cursor_paging(make_org) -> None:
    org_id, owner = await make_org()
    for number in range(4):
        await owner.client.patch(f"/api/v1/orgs/{org_id}", json={"name": f"Name {number}"})
    seen: list[dict] = []
    page = await audit(owner, org_id, limit=2)
    while True:
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        page = await audit(owner, org_id, limit=2, cursor=page["next_cursor"])
    assert len(seen) == 5 and len({entry["id"] for entry in seen}) == 5
    renames = [entry["detail"]["from"] for entry in seen if entry["action"] == "org.rename"]
    assert renames == ["Name 2", "Name 1", "Name 0", "Acme"]  # newest first


async def test_ids_and_cursors_tell_nothing_of_other_orgs(make_org) -> None:
    """Entry ids are random, and cursors are sealed to their org's list."""
    first, owner = await make_org()
    second, _ = await make_org(owner)
    for number in range(3):
        for org_id in (first, second):
            await owner.client.patch(f"/api/v1/orgs/{org_id}", json={"name": f"N{number}"})
    page = await audit(owner, first, limit=2)
    for entry in page["items"]:
        assert not entry["id"].isdigit()
        uuid.UUID(entry["id"])
    cursor = page["next_cursor"]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert not raw.isascii()  # ciphertext, not a readable position
    response = await owner.client.get(
        f"/api/v1/orgs/{second}/audit", query_string={"cursor": cursor}
    )
    await assert_problem(response, 400, "INVALID_CURSOR")
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    response = await owner.client.get(
        f"/api/v1/orgs/{first}/audit", query_string={"cursor": tampered}
    )
    assert response.status_code == 400
    assert (await audit(owner, first, limit=2, cursor=cursor))["items"]


async def test_an_empty_limit_or_cursor_is_refused(make_org) -> None:
    org_id, owner = await make_org()
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/audit?limit=")
    assert response.status_code == 400
    assert (await response.get_json())["code"] == "VALIDATION_ERROR"
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/audit?cursor=")
    assert response.status_code == 400
    assert (await response.get_json())["code"] == "INVALID_CURSOR"


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "x"},
        {"cursor": "x"},
        {"cursor": "0"},
        {"cursor": "\u00b2"},  # a digit to str.isdigit, not to int()
        {"cursor": str(2**63)},  # beyond BIGINT
    ],
)
async def test_bad_queries_are_400(make_org, query) -> None:
    org_id, owner = await make_org()
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/audit", query_string=query)
    await assert_problem(response, 400)


async def test_only_admins_read_the_log(app, make_org, add_member, make_token) -> None:
    org_id, owner = await make_org()
    member = await add_member(org_id, owner, "member")
    admin = await add_member(org_id, owner, "admin")
    url = f"/api/v1/orgs/{org_id}/audit"
    assert (await member.client.get(url)).status_code == 403
    assert (await admin.client.get(url)).status_code == 200
    token = await make_token(org_id, owner, "member")
    assert (await app.test_client().get(url, headers=token)).status_code == 403


async def test_the_log_is_append_only(app, make_org) -> None:
    org_id, _ = await make_org()
    db = services(app).db
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await db.execute(statement)
