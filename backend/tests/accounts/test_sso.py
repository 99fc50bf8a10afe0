"""Single sign-on against a real OpenID Connect provider process (oidc-provider-mock)."""

import json
import subprocess
import sys
import time
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from kurz.oidc import Provider, SSOError
from kurz.services import services

from ..support import PASSWORD, assert_problem, enable_two_factor, free_port

SECOND_FACTOR = "/api/v1/sso/second-factor"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the OpenID provider did not start") from None
            time.sleep(0.1)
    yield issuer
    process.terminate()
    process.wait(10)


@pytest.fixture
def settings(settings, provider):
    return replace(
        settings,
        smtp_url=None,
        require_email_verification=False,
        oidc_issuer=provider,
        oidc_client_id="kurz",
        oidc_client_secret="kurz-secret",
        webhooks_allow_private=True,  # an endpoint on localhost records the events
    )


async def set_claims(provider: str, subject: str, **claims) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        (await http.put(f"{provider}/users/{subject}", json=claims)).raise_for_status()


async def authorize(url: str, subject: str) -> httpx.Response:
    """Submit the provider's login form as ``subject``; its answer redirects to Kurz."""
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.post(url, data={"sub": subject})


async def sign_in(client, provider: str, subject: str, tamper=None, headers=None):
    """The browser's trip: Kurz -> provider's login form (submitted as ``subject``) -> Kurz's
    callback (with ``headers``); returns the callback's answer."""
    response = await client.get("/api/v1/sso/login")
    assert response.status_code == 302
    location = response.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert location.startswith(f"{provider}/oauth2/authorize?")
    back = await authorize(location, subject)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["Location"])
    assert f"http://kurz.test{callback.path}" == "http://kurz.test/api/v1/sso/callback"
    query = callback.query
    if tamper:
        query = await tamper(query)
    return await client.get(f"{callback.path}?{query}", headers=headers)


async def test_first_login_creates_the_account_and_the_second_finds_it(
    app, provider, client
) -> None:
    await set_claims(
        provider, "sub-ada", email="ada@corp.example", email_verified=True, name="Ada"
    )
    response = await sign_in(client, provider, "sub-ada")
    assert response.status_code == 303
    assert response.headers["Location"] == "/#/"
    session = await (await client.get("/api/v1/session")).get_json()
    assert session["email"] == "ada@corp.example" and session["name"] == "Ada"
    assert session["email_verified"] is True
    # No password: password logins cannot reach the account.
    response = await client.post(
        "/api/v1/session", json={"email": "ada@corp.example", "password": PASSWORD}
    )
    assert response.status_code == 401

    browser = app.test_client()
    response = await sign_in(browser, provider, "sub-ada")
    assert response.status_code == 303
    again = await (await browser.get("/api/v1/session")).get_json()
    assert again["id"] == session["id"]
    assert await services(app).db.fetch_val("SELECT count(*) FROM users") == 1
    activity = await (await browser.get("/api/v1/users/me/activity")).get_json()
    assert [(item["action"], item["detail"]) for item in activity["items"]] == [
        ("sso.login", {"created": False}),
        ("sso.login", {"created": True}),
    ]


async def test_an_unverified_email_is_refused(app, provider, client, signup) -> None:
    existing = await signup("bob@corp.example")
    await set_claims(provider, "sub-bob", email="bob@corp.example", email_verified=False)
    response = await sign_in(client, provider, "sub-bob")
    await assert_problem(response, 400, "SSO_EMAIL_UNVERIFIED")
    assert (await client.get("/api/v1/session")).status_code == 401
    assert (await existing.client.get("/api/v1/session")).status_code == 200


async def test_a_verified_email_links_the_existing_account(provider, client, signup) -> None:
    existing = await signup("carol@corp.example")
    await set_claims(provider, "sub-carol", email="Carol@corp.example", email_verified=True)
    response = await sign_in(client, provider, "sub-carol")
    assert response.status_code == 303
    session = await (await client.get("/api/v1/session")).get_json()
    assert session["id"] == existing.id


async def test_an_api_client_gets_status_codes(provider, client) -> None:
    await set_claims(provider, "sub-ivy", email="ivy@corp.example", email_verified=False)
    response = await sign_in(client, provider, "sub-ivy", headers={"Accept": "*/*"})
    await assert_problem(response, 400)


async def test_a_tampered_state_is_refused(provider, client) -> None:
    await set_claims(provider, "sub-dan", email="dan@corp.example", email_verified=True)

    async def other_state(query: str) -> str:
        values = parse_qs(query)
        return f"code={values['code'][0]}&state=forged{values['state'][0]}"

    response = await sign_in(client, provider, "sub-dan", tamper=other_state)
    await assert_problem(response, 400, "SSO_STATE_MISMATCH")
    assert (await client.get("/api/v1/session")).status_code == 401


async def test_a_callback_from_another_browser_is_refused(app, provider, client) -> None:
    await set_claims(provider, "sub-eve", email="eve@corp.example", email_verified=True)
    victim = app.test_client()

    async def in_the_victims_browser(query: str) -> str:
        response = await victim.get(f"/api/v1/sso/callback?{query}")
        await assert_problem(response, 400, "SSO_STATE_MISMATCH")
        assert (await victim.get("/api/v1/session")).status_code == 401
        return query

    await sign_in(client, provider, "sub-eve", tamper=in_the_victims_browser)


async def test_a_tampered_nonce_is_refused(app, provider, client) -> None:
    await set_claims(provider, "sub-fay", email="fay@corp.example", email_verified=True)

    async def other_nonce(query: str) -> str:
        # The ID token will carry the nonce sent to the provider, no longer the one expected.
        await services(app).db.execute("UPDATE sso_logins SET nonce = 'replayed'")
        return query

    response = await sign_in(client, provider, "sub-fay", tamper=other_nonce)
    await assert_problem(response, 400, "SSO_INVALID_TOKEN")
    assert (await client.get("/api/v1/session")).status_code == 401


async def test_orgs_with_the_email_domain_are_joined(provider, client, make_org) -> None:
    org_id, owner = await make_org(name="Corp")
    other_id, _ = await make_org(name="Elsewhere")
    response = await owner.client.patch(
        f"/api/v1/orgs/{org_id}", json={"sso_domains": ["corp.example"]}
    )
    assert response.status_code == 200
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/webhooks",
        json={"url": "http://127.0.0.1:9/", "events": ["member.added"]},
    )
    webhook_id = (await response.get_json())["id"]
    await set_claims(provider, "sub-gus", email="gus@corp.example", email_verified=True)
    response = await sign_in(client, provider, "sub-gus")
    assert response.status_code == 303
    session = await (await client.get("/api/v1/session")).get_json()
    assert session["orgs"] == [{"id": org_id, "name": "Corp", "role": "member"}]
    audit = await (await owner.client.get(f"/api/v1/orgs/{org_id}/audit")).get_json()
    assert audit["items"][0]["action"] == "member.sso_join"
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/webhooks/{webhook_id}/deliveries")
    assert [delivery["type"] for delivery in (await response.get_json())["items"]] == [
        "member.added"
    ]


async def test_a_browser_is_sent_back_to_the_login_screen_on_failure(provider, client) -> None:
    await set_claims(provider, "sub-hal", email="hal@corp.example", email_verified=False)
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    response = await sign_in(client, provider, "sub-hal", headers=browser)
    assert response.status_code == 303
    assert response.headers["Location"] == "/#/login?sso_error=SSO_EMAIL_UNVERIFIED"


async def test_without_configuration_there_is_no_sso(app_factory, settings) -> None:
    app = app_factory(settings, oidc_issuer=None, oidc_client_id=None, oidc_client_secret=None)
    async with app.test_app():
        client = app.test_client()
        response = await client.get("/api/v1/sso/login")
        assert response.status_code == 404
        options = await (await client.get("/api/v1/login-options")).get_json()
        assert options == {"sso": False, "email_verification": False}


async def test_an_account_with_two_factor_still_needs_its_code(
    app, provider, client, signup, monkeypatch
) -> None:
    now = {"t": 1_900_000_000.0}
    monkeypatch.setattr("kurz.totp.clock", lambda: now["t"])
    account = await signup("kim@corp.example")
    totp, (recovery, *_) = await enable_two_factor(account.client, at=now["t"])
    await set_claims(provider, "sub-kim", email="kim@corp.example", email_verified=True)

    response = await sign_in(client, provider, "sub-kim")
    assert response.status_code == 303
    assert response.headers["Location"] == "/#/login?sso_step=totp"
    assert (await client.get("/api/v1/session")).status_code == 401  # not yet
    # Another browser has no such sign-in to finish.
    elsewhere = app.test_client()
    now["t"] += 30
    response = await elsewhere.post(SECOND_FACTOR, json={"totp": totp.at(now["t"])})
    await assert_problem(response, 400, "SSO_STATE_MISMATCH")

    for body in ({}, {"totp": "000000"}, {"recovery_code": "00000-00000"}):
        response = await client.post(SECOND_FACTOR, json=body)
        await assert_problem(response, 401, "TOTP_REQUIRED")
    assert (await client.get("/api/v1/session")).status_code == 401
    response = await client.post(SECOND_FACTOR, json={"totp": totp.at(now["t"])})
    assert response.status_code == 200
    session = await (await client.get("/api/v1/session")).get_json()
    assert session["id"] == account.id
    # Finished: the step cannot be taken twice, and the code works once.
    response = await client.post(SECOND_FACTOR, json={"recovery_code": recovery})
    await assert_problem(response, 400, "SSO_STATE_MISMATCH")

    browser = app.test_client()
    response = await sign_in(browser, provider, "sub-kim")
    response = await browser.post(SECOND_FACTOR, json={"totp": totp.at(now["t"])})
    assert response.status_code == 401  # replayed
    response = await browser.post(SECOND_FACTOR, json={"recovery_code": recovery})
    assert response.status_code == 200
    activity = await (await browser.get("/api/v1/users/me/activity")).get_json()
    assert [(item["action"], item["detail"]) for item in activity["items"][:2]] == [
        ("sso.login", {"created": False, "method": "recovery_code"}),
        ("sso.login", {"created": False, "method": "totp"}),
    ]


async def test_a_browser_is_handed_to_the_second_step(provider, client, signup) -> None:
    account = await signup("lee@corp.example")
    await enable_two_factor(account.client)
    await set_claims(provider, "sub-lee", email="lee@corp.example", email_verified=True)
    response = await sign_in(
        client, provider, "sub-lee", headers={"Accept": "text/html,*/*;q=0.8"}
    )
    assert response.status_code == 200
    assert 'content="0;url=/#/login?sso_step=totp"' in await response.get_data(as_text=True)
    [step_cookie] = [
        cookie
        for cookie in response.headers.get_all("Set-Cookie")
        if cookie.startswith("kurz_sso_step=")
    ]
    assert "HttpOnly" in step_cookie and "Path=/api/v1/sso" in step_cookie
    assert (await client.get("/api/v1/session")).status_code == 401


def b64_json(data: dict) -> str:
    return urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_only_id_tokens_signed_by_the_providers_keys_count(settings, provider) -> None:
    """Forged ID tokens, each with claims that would otherwise pass, are refused."""
    oidc = Provider(settings)
    async with httpx.AsyncClient(timeout=5) as http:
        jwks = (await http.get((await oidc.metadata())["jwks_uri"])).json()
    kid = jwks["keys"][0]["kid"]
    now = int(time.time())
    claims = {"iss": provider, "aud": "kurz", "sub": "sub-x", "iat": now, "exp": now + 300}
    claims |= {"nonce": "n", "email": "x@corp.example", "email_verified": True}
    impostor = RSAKey.generate_key(2048, parameters={"kid": kid})
    client_secret = OctKey.import_key(settings.oidc_client_secret.encode())

    forged = {
        "another key, the provider's key id": jwt.encode(
            {"alg": "RS256", "kid": kid}, claims, impostor
        ),
        "the client secret (HS256)": jwt.encode({"alg": "HS256"}, claims, client_secret),
        "no signature (alg none)": f"{b64_json({'alg': 'none'})}.{b64_json(claims)}.",
    }
    for why, token in forged.items():
        with pytest.raises(SSOError) as refused:
            await oidc.check_id_token(token, "n")
        assert refused.value.code == "SSO_INVALID_TOKEN", why


async def test_an_account_without_password_turns_two_factor_off_with_a_code(
    provider, client, monkeypatch
) -> None:
    now = {"t": 1_900_000_000.0}
    monkeypatch.setattr("kurz.totp.clock", lambda: now["t"])
    await set_claims(provider, "sub-noor", email="noor@corp.example", email_verified=True)
    assert (await sign_in(client, provider, "sub-noor")).status_code == 303
    session = await (await client.get("/api/v1/session")).get_json()
    assert session["has_password"] is False

    async def turn_on() -> tuple[pyotp.TOTP, list[str]]:
        secret = (await (await client.post("/api/v1/users/me/totp")).get_json())["secret"]
        totp = pyotp.TOTP(secret)
        response = await client.post(
            "/api/v1/users/me/totp/confirm", json={"code": totp.at(now["t"])}
        )
        assert response.status_code == 200
        return totp, (await response.get_json())["recovery_codes"]

    async def turn_off(**body) -> int:
        response = await client.delete("/api/v1/users/me/totp", json=body)
        if response.status_code == 400:
            assert (await response.get_json())["code"] == "INVALID_CODE"
        return response.status_code

    totp, _ = await turn_on()
    # No password to give; a code it is, and a wrong or spent one does not do.
    for body in ({}, {"password": PASSWORD}, {"totp": "000000"}, {"totp": totp.at(now["t"])}):
        assert await turn_off(**body) == 400
    assert (await (await client.get("/api/v1/session")).get_json())["totp_enabled"] is True
    now["t"] += 30
    assert await turn_off(totp=totp.at(now["t"])) == 204
    assert (await (await client.get("/api/v1/session")).get_json())["totp_enabled"] is False

    now["t"] += 30
    _, codes = await turn_on()
    assert await turn_off(recovery_code="00000-00000") == 400
    assert await turn_off(recovery_code=codes[0]) == 204
    activity = await (await client.get("/api/v1/users/me/activity")).get_json()
    actions = [item["action"] for item in activity["items"]]
    assert actions[:4] == ["totp.disable", "totp.enable", "totp.disable", "totp.enable"]


async def test_an_account_without_password_confirms_with_a_code_or_a_fresh_sign_in(
    provider, client, monkeypatch, db
) -> None:
    """Renewing recovery codes and deleting the account, without a password to give: a code
    of two-factor when it is on, else a sign-in of the last 10 minutes."""
    now = {"t": 1_900_000_000.0}
    monkeypatch.setattr("kurz.totp.clock", lambda: now["t"])
    await set_claims(provider, "sub-ines", email="ines@corp.example", email_verified=True)
    assert (await sign_in(client, provider, "sub-ines")).status_code == 303
    await db.execute("UPDATE sessions SET created_at = now() - interval '11 minutes'")
    response = await client.delete("/api/v1/users/me", json={})
    assert response.status_code == 403
    assert (await response.get_json())["code"] == "REAUTHENTICATION_REQUIRED"
    assert (await client.get("/api/v1/session")).status_code == 200
    assert (await sign_in(client, provider, "sub-ines")).status_code == 303
    assert (await client.delete("/api/v1/users/me", json={})).status_code == 204
    assert (await client.get("/api/v1/session")).status_code == 401

    await set_claims(provider, "sub-omar", email="omar@corp.example", email_verified=True)
    assert (await sign_in(client, provider, "sub-omar")).status_code == 303
    secret = (await (await client.post("/api/v1/users/me/totp")).get_json())["secret"]
    totp = pyotp.TOTP(secret)
    response = await client.post("/api/v1/users/me/totp/confirm", json={"code": totp.at(now["t"])})
    old_codes = (await response.get_json())["recovery_codes"]
    now["t"] += 30
    renew = "/api/v1/users/me/totp/recovery-codes"
    for body in ({}, {"password": PASSWORD}, {"totp": "000000"}):
        response = await client.post(renew, json=body)
        assert response.status_code == 400
        assert (await response.get_json())["code"] == "INVALID_CODE"
    response = await client.post(renew, json={"totp": totp.at(now["t"])})
    assert response.status_code == 200
    new_codes = (await response.get_json())["recovery_codes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)

    # Deleting needs a code too now: a fresh sign-in alone does not do.
    assert (await client.delete("/api/v1/users/me", json={})).status_code == 400
    response = await client.delete("/api/v1/users/me", json={"recovery_code": old_codes[0]})
    assert response.status_code == 400
    response = await client.delete("/api/v1/users/me", json={"recovery_code": new_codes[0]})
    assert response.status_code == 204
    assert (await client.get("/api/v1/session")).status_code == 401
