import asyncio
import time

import asyncpg
import pytest

from kurz.redirects.cache import asyncpg_dsn
from tests.support import assert_problem


async def members_of(account, org_id: str) -> dict:
    return await (await account.client.get(f"/api/v1/orgs/{org_id}/members")).get_json()


async def roles(account, org_id: str) -> dict[str, str]:
    return {m["user_id"]: m["role"] for m in (await members_of(account, org_id))["items"]}


@pytest.fixture
async def team(make_org, add_member):
    """An org with one owner, one admin and one member."""
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    member = await add_member(org_id, owner, "member")
    return org_id, owner, admin, member


async def test_members_see_each_other_and_pending_invitations(team) -> None:
    org_id, owner, admin, member = team
    await owner.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": "later@example.com", "role": "member"}
    )
    listing = await members_of(member, org_id)
    assert [m["email"] for m in listing["items"]] == [owner.email, admin.email, member.email]
    assert set(listing["items"][0]) == {"user_id", "email", "name", "role", "joined_at"}
    assert [(i["email"], i["role"]) for i in listing["invitations"]] == [
        ("later@example.com", "member")
    ]


@pytest.mark.parametrize(
    ("who", "role", "status"),
    [
        ("admin", "member", 201),
        ("admin", "admin", 403),
        ("admin", "owner", 403),
        ("owner", "admin", 201),
        ("owner", "owner", 201),
        ("member", "member", 403),
    ],
)
async def test_who_may_add_whom(team, signup, who, role, status) -> None:
    org_id, owner, admin, member = team
    caller = {"owner": owner, "admin": admin, "member": member}[who]
    newcomer = await signup()
    response = await caller.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": newcomer.email.upper(), "role": role}
    )
    assert response.status_code == status
    added = (await roles(owner, org_id)).get(newcomer.id)
    if status == 201:
        body = await response.get_json()
        assert (body["user_id"], body["email"], body["role"]) == (
            newcomer.id,
            newcomer.email,
            role,
        )
        assert added == role
    else:
        assert added is None


async def test_adding_a_member_twice_is_a_conflict(team) -> None:
    org_id, owner, _, member = team
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": member.email, "role": "admin"}
    )
    await assert_problem(response, 409, "ALREADY_MEMBER")
    assert (await roles(owner, org_id))[member.id] == "member"


async def test_inviting_again_updates_the_pending_invitation(team) -> None:
    org_id, owner, admin, _ = team
    url = f"/api/v1/orgs/{org_id}/members"
    first = await owner.client.post(url, json={"email": "bob@example.com", "role": "member"})
    again = await owner.client.post(url, json={"email": "BOB@example.com", "role": "admin"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert await again.get_json() == {
        "email": "bob@example.com",
        "role": "admin",
        "created_at": (await first.get_json())["created_at"],
    }
    assert len((await members_of(owner, org_id))["invitations"]) == 1
    # Only an owner may withdraw an admin invitation.
    url = f"/api/v1/orgs/{org_id}/invitations/bob@example.com"
    assert (await admin.client.delete(url)).status_code == 403
    assert (await owner.client.delete(url)).status_code == 204
    assert (await owner.client.delete(url)).status_code == 404
    assert (await members_of(owner, org_id))["invitations"] == []


async def test_only_owners_change_an_owner_or_admin_invitation(team) -> None:
    org_id, owner, admin, _ = team
    url = f"/api/v1/orgs/{org_id}/members"
    invited = await owner.client.post(url, json={"email": "carol@example.com", "role": "owner"})
    assert invited.status_code == 202
    demoted = await admin.client.post(url, json={"email": "carol@example.com", "role": "member"})
    assert demoted.status_code == 403
    assert [(i["email"], i["role"]) for i in (await members_of(owner, org_id))["invitations"]] == [
        ("carol@example.com", "owner")
    ]


@pytest.mark.parametrize(
    ("who", "target", "role", "status"),
    [
        ("owner", "member", "admin", 200),
        ("owner", "admin", "member", 200),
        ("owner", "admin", "owner", 200),
        ("admin", "member", "admin", 403),
        ("admin", "admin", "member", 403),
        ("admin", "owner", "member", 403),
        ("admin", "member", "member", 200),  # no change
        ("member", "member", "admin", 403),
        ("member", "admin", "member", 403),
    ],
)
async def test_who_may_change_which_role(team, who, target, role, status) -> None:
    org_id, owner, admin, member = team
    accounts = {"owner": owner, "admin": admin, "member": member}
    before = await roles(owner, org_id)
    subject = accounts[target]
    response = await accounts[who].client.patch(
        f"/api/v1/orgs/{org_id}/members/{subject.id}", json={"role": role}
    )
    assert response.status_code == status
    expected = {**before, subject.id: role} if status == 200 else before
    assert await roles(owner, org_id) == expected


async def test_the_last_owner_can_never_go(team) -> None:
    org_id, owner, admin, _ = team
    base = f"/api/v1/orgs/{org_id}/members"
    for response in (
        await owner.client.patch(f"{base}/{owner.id}", json={"role": "admin"}),
        await owner.client.delete(f"{base}/{owner.id}"),
    ):
        await assert_problem(response, 409, "LAST_OWNER")
    assert (await roles(owner, org_id))[owner.id] == "owner"
    # With a second owner, either may step down.
    assert (
        await owner.client.patch(f"{base}/{admin.id}", json={"role": "owner"})
    ).status_code == 200
    assert (await admin.client.delete(f"{base}/{owner.id}")).status_code == 204
    assert (await admin.client.delete(f"{base}/{admin.id}")).status_code == 409


@pytest.mark.parametrize(
    ("who", "target", "status"),
    [
        ("member", "member", 204),  # leaving
        ("admin", "admin", 204),  # leaving
        ("admin", "member", 204),
        ("admin", "owner", 403),
        ("member", "admin", 403),
        ("owner", "admin", 204),
    ],
)
async def test_who_may_remove_whom(team, who, target, status) -> None:
    org_id, owner, admin, member = team
    accounts = {"owner": owner, "admin": admin, "member": member}
    subject = accounts[target]
    response = await accounts[who].client.delete(f"/api/v1/orgs/{org_id}/members/{subject.id}")
    assert response.status_code == status
    assert (subject.id in await roles(owner, org_id)) == (status != 204)


async def test_members_leave_under_any_spelling_of_their_id(team) -> None:
    org_id, owner, _, member = team
    spelled = member.id.replace("-", "").upper()
    response = await member.client.delete(f"/api/v1/orgs/{org_id}/members/{spelled}")
    assert response.status_code == 204
    assert member.id not in await roles(owner, org_id)


async def test_unknown_members_are_404(team, signup) -> None:
    org_id, owner, _, _ = team
    stranger = await signup()
    for user_id in (stranger.id, "nonsense"):
        url = f"/api/v1/orgs/{org_id}/members/{user_id}"
        for response in (
            await owner.client.patch(url, json={"role": "member"}),
            await owner.client.delete(url),
        ):
            await assert_problem(response, 404, "MEMBER_NOT_FOUND")


async def test_admin_tokens_add_members_but_grant_nothing_more(app, team, make_token, signup):
    org_id, owner, _, member = team
    token = await make_token(org_id, owner, "admin")
    newcomer = await signup()
    client = app.test_client()
    url = f"/api/v1/orgs/{org_id}/members"
    response = await client.post(
        url, json={"email": newcomer.email, "role": "admin"}, headers=token
    )
    assert response.status_code == 403
    response = await client.post(
        url, json={"email": newcomer.email, "role": "member"}, headers=token
    )
    assert response.status_code == 201
    response = await client.delete(f"{url}/{member.id}", headers=token)
    assert response.status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        {"email": "x@example.com"},
        {"email": "x@example.com", "role": "superuser"},
        {"email": "not an email", "role": "member"},
        {"email": "x@example.com", "role": "member", "note": "hi"},
        {"email": 5, "role": "member"},
    ],
)
async def test_bad_member_bodies_are_400_and_write_nothing(team, body) -> None:
    org_id, owner, _, member = team
    before = await members_of(owner, org_id)
    response = await owner.client.post(f"/api/v1/orgs/{org_id}/members", json=body)
    await assert_problem(response, 400)
    response = await owner.client.patch(
        f"/api/v1/orgs/{org_id}/members/{member.id}", json={"role": body.get("role", 1)}
    )
    assert response.status_code in (200, 400)
    assert await members_of(owner, org_id) == before


async def test_a_role_taken_meanwhile_is_not_acted_on(team, database_url) -> None:
    """An owner's request that read its role, then waited for the org's lock while another
    transaction demoted that owner, must act as the member it has become."""
    org_id, owner, admin, member = team
    base = f"/api/v1/orgs/{org_id}/members"
    await owner.client.patch(f"{base}/{admin.id}", json={"role": "owner"})
    other = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with other.transaction():
            await other.execute("SELECT id FROM orgs WHERE id = $1::uuid FOR UPDATE", org_id)
            promote = asyncio.create_task(
                admin.client.patch(f"{base}/{member.id}", json={"role": "owner"})
            )
            deadline = time.monotonic() + 10
            while not await other.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            ):
                assert time.monotonic() < deadline, "the request never queued for the lock"
                await asyncio.sleep(0.02)
            await other.execute(
                "UPDATE members SET role = 'member'"
                " WHERE org_id = $1::uuid AND user_id = $2::uuid",
                org_id,
                admin.id,
            )
    finally:
        await other.close()
    assert (await promote).status_code == 403
    assert (await roles(owner, org_id))[member.id] == "member"
