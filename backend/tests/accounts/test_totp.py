"""Two-factor sign-in with TOTP codes computed by pyotp at times the test chooses."""

from dataclasses import replace

import pyotp
import pytest

from kurz.services import services

from ..support import PASSWORD, assert_problem, enable_two_factor

RENEW = "/api/v1/users/me/totp/recovery-codes"
START = 1_900_000_000.0  # a Unix time; each test moves on from here


@pytest.fixture
def settings(settings):
    # Without mail (so without verification), as most installations start.
    return replace(settings, smtp_url=None, require_email_verification=False)


@pytest.fixture
def clock(monkeypatch):
    now = {"t": START}
    monkeypatch.setattr("kurz.totp.clock", lambda: now["t"])
    return now


async def enable_totp(account, clock) -> tuple[str, list[str]]:
    response = await account.client.post("/api/v1/users/me/totp")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["otpauth_uri"].startswith("otpauth://totp/Kurz:")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    code = pyotp.TOTP(body["secret"]).at(clock["t"])
    response = await account.client.post("/api/v1/users/me/totp/confirm", json={"code": code})
    assert response.status_code == 200, await response.get_data(as_text=True)
    return body["secret"], (await response.get_json())["recovery_codes"]


async def login(client, account, **second):
    return await client.post(
        "/api/v1/session", json={"email": account.email, "password": PASSWORD, **second}
    )


async def activity(client) -> list[tuple[str, dict]]:
    """The account's events, newest first, as (action, detail)."""
    response = await client.get("/api/v1/users/me/activity")
    assert response.status_code == 200
    return [(item["action"], item["detail"]) for item in (await response.get_json())["items"]]


async def test_set_up_is_inactive_until_confirmed(client, signup, clock) -> None:
    account = await signup()
    response = await account.client.post("/api/v1/users/me/totp")
    secret = (await response.get_json())["secret"]
    qr = await account.client.get("/api/v1/users/me/totp/qr")
    assert qr.status_code == 200 and qr.content_type == "image/svg+xml"
    assert (await login(client, account)).status_code == 200  # not on yet

    wrong = pyotp.TOTP(secret).at(clock["t"] + 300)
    response = await account.client.post("/api/v1/users/me/totp/confirm", json={"code": wrong})
    await assert_problem(response, 400, "INVALID_CODE")
    session = await (await account.client.get("/api/v1/session")).get_json()
    assert session["totp_enabled"] is False


async def test_login_needs_a_fresh_code_each_time(client, signup, clock) -> None:
    account = await signup()
    secret, codes = await enable_totp(account, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    totp = pyotp.TOTP(secret)

    response = await login(client, account)
    await assert_problem(response, 401, "TOTP_REQUIRED")
    # The code that confirmed the set-up was used already.
    response = await login(client, account, totp=totp.at(clock["t"]))
    await assert_problem(response, 401, "TOTP_REQUIRED")

    clock["t"] += 30
    response = await login(client, account, totp=totp.at(clock["t"]))
    assert response.status_code == 200
    assert (await activity(client))[0] == ("login", {"method": "totp"})
    response = await login(client, account, totp=totp.at(clock["t"]))
    assert response.status_code == 401  # replayed
    # A code from before the last one used never works again either.
    response = await login(client, account, totp=totp.at(clock["t"] - 30))
    assert response.status_code == 401
    # One step of clock drift is tolerated, three are not.
    clock["t"] += 60
    assert (await login(client, account, totp=totp.at(clock["t"] + 30))).status_code == 200
    clock["t"] += 300
    assert (await login(client, account, totp=totp.at(clock["t"] - 90))).status_code == 401
    assert (await login(client, account, totp="12345a")).status_code == 401
    # The password is still checked first.
    response = await client.post(
        "/api/v1/session",
        json={"email": account.email, "password": "wrong!", "totp": totp.at(clock["t"])},
    )
    await assert_problem(response, 401, "INVALID_CREDENTIALS")


async def test_recovery_codes_work_once_each(client, signup, clock) -> None:
    account = await signup()
    _, codes = await enable_totp(account, clock)
    assert (await login(client, account, recovery_code=codes[0])).status_code == 200
    assert (await login(client, account, recovery_code=codes[0])).status_code == 401
    # Spelled in capitals and without the dash, the next one still counts.
    spelled = codes[1].replace("-", "").upper()
    assert (await login(client, account, recovery_code=spelled)).status_code == 200
    assert (await login(client, account, recovery_code="00000-00000")).status_code == 401
    assert (await activity(client))[:2] == [("login", {"method": "recovery_code"})] * 2


async def test_recovery_codes_can_be_renewed(client, signup, clock) -> None:
    account = await signup()
    status = await (await account.client.get("/api/v1/users/me/totp")).get_json()
    assert status == {"enabled": False, "recovery_codes_left": 0}
    response = await account.client.post(RENEW, json={"password": PASSWORD})
    await assert_problem(response, 409, "TOTP_NOT_ENABLED")

    _, old_codes = await enable_totp(account, clock)
    assert (await login(client, account, recovery_code=old_codes[0])).status_code == 200
    status = await (await account.client.get("/api/v1/users/me/totp")).get_json()
    assert status == {"enabled": True, "recovery_codes_left": 9}

    response = await account.client.post(RENEW, json={"password": "wrong"})
    await assert_problem(response, 400, "WRONG_PASSWORD")
    response = await account.client.post(RENEW, json={"password": PASSWORD})
    assert response.status_code == 200
    new_codes = (await response.get_json())["recovery_codes"]
    assert len(set(new_codes)) == 10 and not set(new_codes) & set(old_codes)
    status = await (await account.client.get("/api/v1/users/me/totp")).get_json()
    assert status["recovery_codes_left"] == 10
    assert (await login(client, account, recovery_code=old_codes[1])).status_code == 401
    assert (await login(client, account, recovery_code=new_codes[0])).status_code == 200
    assert ("totp.recovery_codes", {}) in await activity(client)


async def test_turning_it_off_needs_the_password(client, signup, clock) -> None:
    account = await signup()
    secret, _ = await enable_totp(account, clock)
    session = await (await account.client.get("/api/v1/session")).get_json()
    assert session["has_password"] is True
    response = await account.client.post("/api/v1/users/me/totp")
    assert response.status_code == 409  # no silent replacement while it is on
    response = await account.client.delete("/api/v1/users/me/totp", json={"password": "wrong"})
    assert response.status_code == 400
    # A code is no stand-in for the password of an account that has one.
    clock["t"] += 30
    code = pyotp.TOTP(secret).at(clock["t"])
    response = await account.client.delete("/api/v1/users/me/totp", json={"totp": code})
    assert (await response.get_json())["code"] == "WRONG_PASSWORD"
    response = await account.client.delete("/api/v1/users/me/totp", json={"password": PASSWORD})
    assert response.status_code == 204
    assert (await login(client, account)).status_code == 200
    assert await activity(client) == [
        ("login", {"method": "password"}),
        ("totp.disable", {}),
        ("totp.enable", {}),
        ("login", {"method": "password"}),
    ]


async def test_an_org_can_require_two_factor(make_org, add_member, make_token, clock) -> None:
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    member = await add_member(org_id, owner)
    leaver = await add_member(org_id, owner)
    token = await make_token(org_id, owner)

    response = await admin.client.patch(f"/api/v1/orgs/{org_id}", json={"require_2fa": True})
    assert response.status_code == 403  # owners only
    response = await owner.client.patch(
        f"/api/v1/orgs/{org_id}", json={"require_2fa": True, "sso_domains": ["Example.COM"]}
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert body["require_2fa"] is True and body["sso_domains"] == ["example.com"]

    response = await member.client.get(f"/api/v1/orgs/{org_id}/links")
    await assert_problem(response, 403, "TWO_FACTOR_REQUIRED")
    # Leaving stays possible, and so does setting two-factor up.
    response = await leaver.client.delete(f"/api/v1/orgs/{org_id}/members/{leaver.id}")
    assert response.status_code == 204
    await enable_totp(member, clock)
    assert (await member.client.get(f"/api/v1/orgs/{org_id}/links")).status_code == 200
    # API tokens are not people: they keep working.
    response = await member.client.get(f"/api/v1/orgs/{org_id}/links", headers=token)
    assert response.status_code == 200


async def test_sso_domains_must_be_domains(make_org) -> None:
    org_id, owner = await make_org()
    for domains in (["not a domain"], ["@example.com"], "example.com"):
        response = await owner.client.patch(
            f"/api/v1/orgs/{org_id}", json={"sso_domains": domains}
        )
        assert response.status_code == 400
    org = await (await owner.client.get(f"/api/v1/orgs/{org_id}")).get_json()
    assert org["sso_domains"] == [] and org["require_2fa"] is False


async def test_wrong_codes_count_as_failed_logins(app_factory, settings, clock) -> None:
    app = app_factory(settings, rate_limits=True)
    async with app.test_app():
        client = app.test_client()
        body = {"email": "guessed@example.com", "password": PASSWORD}
        assert (await client.post("/api/v1/users", json=body)).status_code == 201
        assert (await client.post("/api/v1/session", json=body)).status_code == 200
        totp, _ = await enable_two_factor(client, at=clock["t"])
        answers = [
            (await client.post("/api/v1/session", json={**body, "totp": "000000"})).status_code
            for _ in range(11)
        ]
        clock["t"] += 30
        right = totp.at(clock["t"])
        locked = await client.post("/api/v1/session", json={**body, "totp": right})
    assert answers[:10] == [401] * 10 and answers[10] == 429
    assert locked.status_code == 429  # even the right code waits out the window


async def test_secrets_are_stored_encrypted(app, app_factory, settings, client, signup, clock):
    account = await signup()
    secret, codes = await enable_totp(account, clock)
    db = services(app).db
    stored = await db.fetch_val("SELECT totp_secret FROM users WHERE id = :id", {"id": account.id})
    assert stored and secret not in stored and secret.lower() not in stored.lower()
    clock["t"] += 30
    code = pyotp.TOTP(secret).at(clock["t"])
    assert (await login(client, account, totp=code)).status_code == 200

    # Under another KURZ_SECRET_KEY the stored secret is unreadable: right codes fail, and the
    # recovery codes (stored hashed) are the way in.
    other = app_factory(settings, secret_key="another-secret-key-for-this-test-only")
    async with other.test_app():
        other_client = other.test_client()
        clock["t"] += 30
        code = pyotp.TOTP(secret).at(clock["t"])
        assert (await login(other_client, account, totp=code)).status_code == 401
        assert (await login(other_client, account, recovery_code=codes[0])).status_code == 200


async def test_a_secret_being_set_up_is_stored_encrypted(app, signup, clock) -> None:
    account = await signup()
    secret = (await (await account.client.post("/api/v1/users/me/totp")).get_json())["secret"]
    pending = await services(app).db.fetch_val(
        "SELECT totp_pending_secret FROM users WHERE id = :id", {"id": account.id}
    )
    assert pending and secret not in pending
    qr = await account.client.get("/api/v1/users/me/totp/qr")
    assert qr.status_code == 200
    code = pyotp.TOTP(secret).at(clock["t"])
    response = await account.client.post("/api/v1/users/me/totp/confirm", json={"code": code})
    assert response.status_code == 200


async def test_admins_see_who_has_two_factor(
    client, make_org, add_member, make_token, clock
) -> None:
    org_id, owner = await make_org()
    admin = await add_member(org_id, owner, "admin")
    member = await add_member(org_id, owner)
    await enable_totp(member, clock)
    members = f"/api/v1/orgs/{org_id}/members"

    for account in (owner, admin):
        response = await account.client.get(members)
        assert response.status_code == 200
        items = (await response.get_json())["items"]
        assert {item["email"]: item["two_factor"] for item in items} == {
            owner.email: False,
            admin.email: False,
            member.email: True,
        }
    # API tokens act as admins at most: an admin token sees it too.
    token = await make_token(org_id, owner, role="admin")
    items = (await (await client.get(members, headers=token)).get_json())["items"]
    assert all("two_factor" in item for item in items)
    # Plain members see the list as before, without anyone's two-factor status.
    items = (await (await member.client.get(members)).get_json())["items"]
    assert len(items) == 3
    assert [set(item) for item in items] == [{"user_id", "email", "name", "role", "joined_at"}] * 3
