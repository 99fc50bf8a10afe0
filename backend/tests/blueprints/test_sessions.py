import pytest

from ..support import PASSWORD, assert_problem

COOKIE = "kurz_session"


def session_cookie(response) -> str:
    (header,) = [h for h in response.headers.get_all("Set-Cookie") if h.startswith(COOKIE)]
    return header


def cookie_value(response) -> str:
    return session_cookie(response).split(";")[0].split("=", 1)[1]


async def login(client, email: str, password: str = PASSWORD, **extra):
    return await client.post(
        "/api/v1/session", json={"email": email, "password": password, **extra}
    )


async def test_login_answers_the_user_and_sets_a_browser_session_cookie(app, signup) -> None:
    account = await signup(name="Ada")
    response = await login(app.test_client(), account.email.upper())  # any letter case
    assert response.status_code == 200
    assert await response.get_json() == {"id": account.id, "email": account.email, "name": "Ada"}
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # Without "remember", the cookie ends with the browser session.
    assert "Max-Age" not in cookie and "Expires" not in cookie
    assert "Secure" not in cookie  # the test settings serve plain http


async def test_remember_keeps_the_cookie_for_30_days(app, signup) -> None:
    account = await signup()
    response = await login(app.test_client(), account.email, remember=True)
    assert f"Max-Age={30 * 24 * 3600}" in session_cookie(response)


async def test_cookies_are_secure_unless_disabled(app_factory, settings, signup) -> None:
    account = await signup()
    secure_app = app_factory(settings, cookie_secure=True)
    async with secure_app.test_app():
        response = await secure_app.test_client().post(
            "/api/v1/session",
            json={"email": account.email, "password": PASSWORD},
            scheme="https",
        )
    assert "Secure" in session_cookie(response)


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    app, signup, checked_hashes
) -> None:
    account = await signup()
    checked_hashes.clear()  # signing up logged in once
    client = app.test_client()
    wrong = await login(client, account.email, "not the password at all")
    unknown = await login(client, "nobody@example.com")
    for response in (wrong, unknown):
        await assert_problem(response, 401, "INVALID_CREDENTIALS")
        assert "Set-Cookie" not in response.headers
    assert await wrong.get_json() == await unknown.get_json()
    # The same work either way: one bcrypt at the same cost (so about the same time).
    assert checked_hashes == [b"$2b$04$", b"$2b$04$"]


async def test_get_session_lists_the_users_orgs(make_org, signup) -> None:
    account = await signup(name="Grace")
    org_id, _ = await make_org(account, name="Navy")
    response = await account.client.get("/api/v1/session")
    assert response.status_code == 200
    assert await response.get_json() == {
        "id": account.id,
        "email": account.email,
        "name": "Grace",
        "email_verified": False,
        "totp_enabled": False,
        "has_password": True,
        "orgs": [{"id": org_id, "name": "Navy", "role": "owner"}],
    }


async def test_no_session_is_401(client) -> None:
    response = await client.get("/api/v1/session")
    await assert_problem(response, 401, "NOT_AUTHENTICATED")


async def test_logout_ends_the_session_on_the_server(app, signup) -> None:
    account = await signup()
    response = await login(app.test_client(), account.email)
    stolen = {"Cookie": f"{COOKIE}={cookie_value(response)}"}
    assert (await app.test_client().get("/api/v1/session", headers=stolen)).status_code == 200

    response = await app.test_client().delete("/api/v1/session", headers=stolen)
    assert response.status_code == 204
    assert "Max-Age=0" in session_cookie(response)  # cleared
    # Replaying the (validly signed) cookie no longer works.
    assert (await app.test_client().get("/api/v1/session", headers=stolen)).status_code == 401
    # Logging out without a session is harmless.
    assert (await app.test_client().delete("/api/v1/session")).status_code == 204


async def test_logging_in_again_replaces_the_session(app, signup) -> None:
    account = await signup()
    first = cookie_value(await login(account.client, account.email))
    second = cookie_value(await login(account.client, account.email))
    assert first != second
    replay = {"Cookie": f"{COOKIE}={first}"}
    assert (await app.test_client().get("/api/v1/session", headers=replay)).status_code == 401
    assert (await account.client.get("/api/v1/session")).status_code == 200


async def test_api_tokens_do_not_act_on_session_routes(make_org, make_token) -> None:
    org_id, owner = await make_org()
    token = await make_token(org_id, owner, "admin")
    # Even next to a valid cookie: a bearer request skipped the CSRF check, so it must not
    # act on the cookie (log out, or log in as someone else) either.
    foreign = {**token, "Origin": "https://evil.example"}
    response = await owner.client.get("/api/v1/session", headers=token)
    assert response.status_code == 401
    assert (await owner.client.delete("/api/v1/session", headers=foreign)).status_code == 401
    body = {"email": owner.email, "password": PASSWORD}
    response = await owner.client.post("/api/v1/session", json=body, headers=foreign)
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers
    assert (await owner.client.get("/api/v1/session")).status_code == 200


async def test_login_trims_the_email_as_registration_does(app, signup) -> None:
    account = await signup()
    response = await login(app.test_client(), f"  {account.email.upper()} ")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": 12345678},
        {"email": "a@example.com", "password": PASSWORD, "remember": "yes"},
        {"email": "a@example.com", "password": PASSWORD, "admin": True},
        {"email": "a" * 300 + "@example.com", "password": PASSWORD},
        [],
    ],
)
async def test_bad_login_bodies_are_400(client, body) -> None:
    response = await client.post("/api/v1/session", json=body)
    await assert_problem(response, 400)
    assert "Set-Cookie" not in response.headers


async def test_a_login_that_is_not_json_is_400(client) -> None:
    response = await client.post("/api/v1/session", form={"email": "a@b.c", "password": "x"})
    await assert_problem(response, 400)


async def test_openapi_describes_account_bodies_and_errors(client) -> None:
    document = await (await client.get("/openapi.json")).get_json()
    login_route = document["paths"]["/api/v1/session"]["post"]
    assert "requestBody" in login_route
    assert {"200", "400", "401", "429"} <= set(map(str, login_route["responses"]))
    members = document["paths"]["/api/v1/orgs/{org_id}/members"]["post"]
    assert {"201", "202", "403", "404", "409"} <= set(map(str, members["responses"]))
    body = members["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False  # unknown fields are refused
    assert set(body["required"]) == {"email", "role"}
    # Routes that authenticate before validating keep their documented body.
    for path, method in (("/api/v1/orgs", "post"), ("/api/v1/users/me/password", "put")):
        assert "requestBody" in document["paths"][path][method], path
