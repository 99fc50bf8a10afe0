from unittest.mock import ANY

import pytest

from kurz.services import services

from ..support import PASSWORD, assert_problem
from .test_sessions import login

NEW_PASSWORD = "plum tractor moonlight 42"


async def count_users(app) -> int:
    return await services(app).db.fetch_val("SELECT count(*) FROM users")


async def test_register_answers_the_user_without_its_hash(app, client) -> None:
    response = await client.post(
        "/api/v1/users", json={"email": "ada@example.com", "password": PASSWORD, "name": " Ada "}
    )
    assert response.status_code == 201
    body = await response.get_json()
    assert body == {"id": body["id"], "email": "ada@example.com", "name": "Ada"}
    stored = await services(app).db.fetch_val("SELECT password_hash FROM users")
    assert stored.startswith("$2b$") and PASSWORD not in stored


async def test_a_null_name_is_no_name(client) -> None:
    response = await client.post(
        "/api/v1/users", json={"email": "nemo@example.com", "password": PASSWORD, "name": None}
    )
    assert response.status_code == 201
    assert (await response.get_json())["name"] == ""


async def test_emails_are_unique_in_any_letter_case(app, client, signup) -> None:
    await signup(email="grace@example.com")
    response = await client.post(
        "/api/v1/users", json={"email": "Grace@Example.COM", "password": PASSWORD}
    )
    await assert_problem(response, 409, "EMAIL_TAKEN")
    assert await count_users(app) == 1


@pytest.mark.parametrize(
    ("password", "code"),
    [("short1!", "PASSWORD_TOO_SHORT"), ("password1", "WEAK_PASSWORD"), ("é" * 40, None)],
)
async def test_weak_or_unusable_passwords_are_400(app, client, password, code) -> None:
    response = await client.post(
        "/api/v1/users", json={"email": "weak@example.com", "password": password}
    )
    body = await assert_problem(response, 400, code)
    assert body["errors"][0]["field"] == "password"
    assert await count_users(app) == 0


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "email", "This field is required."),
        ({"password": PASSWORD}, "email", "This field is required."),
        (
            {"email": "not-an-email", "password": PASSWORD},
            "email",
            "An email address must have an @-sign.",
        ),
        ({"email": ["a@example.com"], "password": PASSWORD}, "email", ANY),
        ({"email": "a@example.com", "password": None}, "password", ANY),
        (
            {"email": "a@example.com", "password": PASSWORD, "name": "x" * 101},
            "name",
            "This may have at most 100 characters.",
        ),
        (
            {"email": "a@example.com", "password": PASSWORD, "role": "owner"},
            "role",
            "This field is not accepted here.",
        ),
        ("a@example.com", "body", ANY),
    ],
)
async def test_bad_registrations_are_400_name_the_field_and_write_nothing(
    app, client, body, field, message
) -> None:
    response = await client.post("/api/v1/users", json=body)
    await assert_problem(response, 400)
    first = (await response.get_json())["errors"][0]
    assert first == {"field": field, "message": message}
    assert await count_users(app) == 0


async def test_a_registration_that_is_not_json_is_400(app, client) -> None:
    for kwargs in (
        {"form": {"email": "a@example.com", "password": PASSWORD}},
        {"data": "{not json", "headers": {"Content-Type": "application/json"}},
    ):
        response = await client.post("/api/v1/users", **kwargs)
        await assert_problem(response, 400)
    assert await count_users(app) == 0


async def test_registering_turns_invitations_into_memberships(make_org, signup) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": "Newbie@example.com", "role": "admin"}
    )
    assert response.status_code == 202
    newbie = await signup(email="newbie@EXAMPLE.com")
    orgs = (await (await newbie.client.get("/api/v1/session")).get_json())["orgs"]
    assert orgs == [{"id": org_id, "name": "Acme", "role": "admin"}]
    members = await (await owner.client.get(f"/api/v1/orgs/{org_id}/members")).get_json()
    assert members["invitations"] == []
    # The domain is stored normalised (lower case); the local part as typed.
    assert {member["email"] for member in members["items"]} == {owner.email, "newbie@example.com"}


async def change_password(client, current: str, new: str = NEW_PASSWORD):
    return await client.put(
        "/api/v1/users/me/password", json={"current_password": current, "new_password": new}
    )


async def test_changing_the_password_ends_every_other_session(app, signup) -> None:
    account = await signup()
    other = app.test_client()
    await login(other, account.email)
    response = await change_password(account.client, PASSWORD)
    assert response.status_code == 204
    assert (await account.client.get("/api/v1/session")).status_code == 200  # this one stays
    assert (await other.get("/api/v1/session")).status_code == 401
    assert (await login(app.test_client(), account.email)).status_code == 401
    assert (await login(app.test_client(), account.email, NEW_PASSWORD)).status_code == 200


async def test_a_wrong_current_password_changes_nothing(app, signup) -> None:
    account = await signup()
    other = app.test_client()
    await login(other, account.email)
    response = await change_password(account.client, "guess guess guess")
    assert response.status_code == 400
    assert (await response.get_json())["errors"][0]["field"] == "current_password"
    assert (await other.get("/api/v1/session")).status_code == 200
    assert (await login(app.test_client(), account.email)).status_code == 200


async def test_a_weak_new_password_is_refused(signup) -> None:
    account = await signup()
    response = await change_password(account.client, PASSWORD, "12345678")
    assert response.status_code == 400
    assert (await response.get_json())["errors"][0]["field"] == "new_password"


async def test_changing_the_password_needs_a_session(app, client, make_org, make_token) -> None:
    assert (await change_password(client, PASSWORD)).status_code == 401
    org_id, owner = await make_org()
    token = await make_token(org_id, owner, "admin")
    response = await app.test_client().put(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=token,
    )
    assert response.status_code == 401
