"""Deleting an account: not while it is an org's only owner; its links stay, shown as made
by a deleted user; audit entries keep its id; nothing personal is left."""

from dataclasses import replace

import pytest

from kurz.services import services

from ..support import PASSWORD, assert_problem

NEW_PASSWORD = "a different passphrase 9"


@pytest.fixture
def settings(settings):
    # An endpoint on localhost records the webhook events.
    return replace(
        settings, smtp_url=None, require_email_verification=False, webhooks_allow_private=True
    )


async def test_the_only_owner_cannot_delete_the_account(make_org) -> None:
    org_id, owner = await make_org()
    response = await owner.client.delete("/api/v1/users/me", json={"password": "wrong"})
    assert response.status_code == 400
    response = await owner.client.delete("/api/v1/users/me", json={"password": PASSWORD})
    await assert_problem(response, 409, "LAST_OWNER")
    assert (await owner.client.get(f"/api/v1/orgs/{org_id}")).status_code == 200


async def test_a_deleted_account_leaves_its_links_and_no_personal_data(
    app, client, make_org, add_member, make_link, make_token, jobs
) -> None:
    org_id, owner = await make_org()
    leaving = await add_member(org_id, owner, "admin")
    link = await make_link(org_id, leaving, slug="kept-link")
    token = await make_token(org_id, leaving)
    db = services(app).db
    response = await leaving.client.put(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204  # a notice mail, still in the outbox
    response = await client.post("/api/v1/password-reset", json={"email": leaving.email})
    assert response.status_code == 202
    await jobs.run_due()  # the reset mail joins it (and the notice of being added)
    mails = "SELECT count(*) FROM mails WHERE recipient = :email"
    assert await db.fetch_val(mails, {"email": leaving.email}) == 3

    response = await leaving.client.delete("/api/v1/users/me", json={"password": NEW_PASSWORD})
    assert response.status_code == 204
    assert (await leaving.client.get("/api/v1/session")).status_code == 401
    response = await client.post(
        "/api/v1/session", json={"email": leaving.email, "password": NEW_PASSWORD}
    )
    assert response.status_code == 401
    response = await client.get(f"/api/v1/orgs/{org_id}/links", headers=token)
    assert response.status_code == 401  # the tokens it made stop working

    kept = await (await owner.client.get(f"/api/v1/orgs/{org_id}/links/kept-link")).get_json()
    assert kept["url"] == link["url"]
    assert kept["created_by"]["id"] == leaving.id
    assert kept["created_by"]["email"] == f"deleted-{leaving.id}@deleted.invalid"
    members = await (await owner.client.get(f"/api/v1/orgs/{org_id}/members")).get_json()
    assert [item["user_id"] for item in members["items"]] == [owner.id]

    audit = await (await owner.client.get(f"/api/v1/orgs/{org_id}/audit")).get_json()
    deletion = audit["items"][0]
    assert deletion["action"] == "account.delete"
    assert deletion["actor"]["id"] == leaving.id
    assert leaving.email not in str(deletion)
    row = await db.fetch_one(
        "SELECT email, name, password_hash FROM users WHERE id = :id", {"id": leaving.id}
    )
    assert leaving.email not in row["email"] and row["password_hash"] is None
    assert await db.fetch_val(mails, {"email": leaving.email}) == 0  # nor is its mail sent

    # The address is free for a new account.
    again = await client.post("/api/v1/users", json={"email": leaving.email, "password": PASSWORD})
    assert again.status_code == 201
    assert (await again.get_json())["id"] != leaving.id


async def test_an_owner_among_owners_may_delete_the_account(make_org, add_member) -> None:
    org_id, owner = await make_org()
    other = await add_member(org_id, owner, "owner")
    response = await other.client.post(
        f"/api/v1/orgs/{org_id}/webhooks",
        json={"url": "http://127.0.0.1:9/", "events": ["member.removed"]},
    )
    webhook = f"/api/v1/orgs/{org_id}/webhooks/{(await response.get_json())['id']}"
    response = await owner.client.delete("/api/v1/users/me", json={"password": PASSWORD})
    assert response.status_code == 204
    members = await (await other.client.get(f"/api/v1/orgs/{org_id}/members")).get_json()
    assert [item["role"] for item in members["items"]] == ["owner"]
    deliveries = await (await other.client.get(f"{webhook}/deliveries")).get_json()
    assert [delivery["type"] for delivery in deliveries["items"]] == ["member.removed"]
