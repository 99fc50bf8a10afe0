"""Password reset by a mailed link: the same answer for any email, one hour, once, and every
session of the user ends."""

from datetime import timedelta

from kurz.services import services

from ..support import PASSWORD, assert_problem, enable_two_factor

NEW_PASSWORD = "another long passphrase 42"


async def test_reset_through_the_mailed_link(client, signup, smtp, send) -> None:
    account = await signup()
    other_session = await signup(account.email.replace("@", "+x@"))  # an unrelated account
    response = await client.post("/api/v1/password-reset", json={"email": account.email.upper()})
    assert response.status_code == 202
    assert await response.get_data() == b""
    await send()
    token = smtp.mailbox.token(account.email)
    assert "/#/reset-password?token=" in smtp.mailbox.text(smtp.mailbox.to(account.email)[-1])

    # A weak password is refused before the token is spent.
    response = await client.post(
        "/api/v1/password-reset/confirm", json={"token": token, "new_password": "password"}
    )
    assert response.status_code == 400
    response = await client.post(
        "/api/v1/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204

    assert (await account.client.get("/api/v1/session")).status_code == 401
    assert (await other_session.client.get("/api/v1/session")).status_code == 200
    response = await client.post(
        "/api/v1/session", json={"email": account.email, "password": PASSWORD}
    )
    assert response.status_code == 401
    response = await client.post(
        "/api/v1/session", json={"email": account.email, "password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    # Once only.
    response = await client.post(
        "/api/v1/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD + "!"}
    )
    await assert_problem(response, 400, "INVALID_TOKEN")
    # The user is told, and the account's activity has both steps.
    await send()
    assert smtp.mailbox.to(account.email)[-1]["Subject"] == "Your Kurz password was changed"
    activity = await (await client.get("/api/v1/users/me/activity")).get_json()
    assert [item["action"] for item in activity["items"]][:3] == [
        "login",
        "password_reset.complete",
        "password_reset.request",
    ]


async def test_unknown_emails_get_the_same_answer_and_no_mail(app, client, smtp, send) -> None:
    known = await client.post("/api/v1/password-reset", json={"email": "nobody@example.com"})
    assert known.status_code == 202
    assert await known.get_data() == b""
    await send()
    assert smtp.mailbox.messages == []


async def test_a_reset_link_expires_after_an_hour(app, client, signup, smtp, send) -> None:
    account = await signup()
    await client.post("/api/v1/password-reset", json={"email": account.email})
    await send()
    token = smtp.mailbox.token(account.email)
    db = services(app).db
    await db.execute(
        "UPDATE user_tokens SET expires_at = now() - interval '1 second'"
        " WHERE purpose = 'reset_password'"
    )
    response = await client.post(
        "/api/v1/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    lifetime = await db.fetch_val(
        "SELECT expires_at - created_at FROM user_tokens WHERE purpose = 'reset_password'"
    )
    assert lifetime <= timedelta(hours=1, seconds=1)


def from_address(number: int) -> dict:
    return {"scope_base": {"client": (f"192.0.2.{number}", 40000)}}


async def test_reset_requests_are_rate_limited_per_email(app_factory, settings) -> None:
    app = app_factory(settings, rate_limits=True)
    async with app.test_app():
        client = app.test_client()
        answers = [
            await client.post(
                "/api/v1/password-reset", json={"email": "x@example.com"}, **from_address(n)
            )
            for n in range(1, 7)  # from a new address each time
        ]
        other_email = await client.post(
            "/api/v1/password-reset", json={"email": "y@example.com"}, **from_address(7)
        )
    assert [answer.status_code for answer in answers][:5] == [202] * 5
    assert answers[5].status_code == 429
    assert "Retry-After" in answers[5].headers
    assert other_email.status_code == 202


async def test_reset_requests_are_rate_limited_per_address(app_factory, settings) -> None:
    app = app_factory(settings, rate_limits=True)
    async with app.test_app():
        client = app.test_client()
        answers = [
            await client.post(
                "/api/v1/password-reset", json={"email": f"{n}@example.com"}, **from_address(1)
            )
            for n in range(6)  # a new email each time
        ]
        elsewhere = await client.post(
            "/api/v1/password-reset", json={"email": "6@example.com"}, **from_address(2)
        )
    assert [answer.status_code for answer in answers] == [202] * 5 + [429]
    assert elsewhere.status_code == 202


async def test_a_reset_does_not_skip_two_factor(client, signup, smtp, send) -> None:
    account = await signup()
    await enable_two_factor(account.client)
    await client.post("/api/v1/password-reset", json={"email": account.email})
    await send()
    response = await client.post(
        "/api/v1/password-reset/confirm",
        json={"token": smtp.mailbox.token(account.email), "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204
    body = {"email": account.email, "password": NEW_PASSWORD}
    response = await client.post("/api/v1/session", json=body)
    await assert_problem(response, 401, "TOTP_REQUIRED")
    assert (await client.get("/api/v1/session")).status_code == 401
