"""The account's own activity: its security events, newest first, page by page, to no one else."""

from dataclasses import replace

import pytest

from ..support import PASSWORD, assert_problem

ACTIVITY = "/api/v1/users/me/activity"


@pytest.fixture
def settings(settings):
    return replace(settings, smtp_url=None, require_email_verification=False)


async def test_the_activity_pages_back_through_logins(app, client, signup, make_org) -> None:
    account = await signup()
    org_id, _ = await make_org(account)
    body = {"email": account.email, "password": PASSWORD}
    for _ in range(3):
        assert (await client.post("/api/v1/session", json=body)).status_code == 200
    response = await client.put(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "yet another good passphrase"},
    )
    assert response.status_code == 204

    seen = []
    cursor = None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        response = await client.get(ACTIVITY, query_string=query)
        assert response.status_code == 200
        page = await response.get_json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [item["action"] for item in seen] == ["password.change"] + ["login"] * 4
    assert all(item["detail"] == {"method": "password"} for item in seen[1:])
    assert len({item["id"] for item in seen}) == 5
    assert all(item["at"].endswith("Z") for item in seen)
    # A login is the account's own business; a password change is also shown to its orgs.
    audit = await (await client.get(f"/api/v1/orgs/{org_id}/audit")).get_json()
    assert [item["action"] for item in audit["items"]] == ["password.change", "org.create"]


async def test_only_the_account_itself_sees_its_activity(
    client, signup, make_org, make_token
) -> None:
    account = await signup()
    other = await signup()
    items = (await (await other.client.get(ACTIVITY)).get_json())["items"]
    assert [item["action"] for item in items] == ["login"]
    assert (await client.get(ACTIVITY)).status_code == 401
    org_id, _ = await make_org(account)
    response = await client.get(ACTIVITY, headers=await make_token(org_id, account))
    assert response.status_code in (401, 403)  # API tokens act in their org only
    response = await account.client.get(ACTIVITY, query_string={"cursor": "²"})
    await assert_problem(response, 400, "INVALID_CURSOR")
