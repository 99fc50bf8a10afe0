"""Mail through a real SMTP server: verification, invitations, squatting and hijacking
refused, and an SMTP outage that delays mail without sending any twice."""

import asyncio
from datetime import timedelta
from html import unescape

from kurz.services import services

from ..support import PASSWORD, assert_problem, enable_two_factor

CONFIRM = "/api/v1/email-verification/confirm"


async def test_registering_mails_a_link_that_verifies_the_address(signup, smtp, send) -> None:
    account = await signup()
    session = await (await account.client.get("/api/v1/session")).get_json()
    assert session["email_verified"] is False
    await send()
    [mail] = smtp.mailbox.to(account.email)
    assert mail["From"] == "Kurz <kurz@kurz.test>"
    assert "http://kurz.test/#/verify-email?token=" in smtp.mailbox.text(mail)
    assert "verify-email?token=" in mail.get_body(("html",)).get_content()
    token = smtp.mailbox.token(account.email)
    assert f"token={token}" in mail.as_string()  # whole in the raw message too

    response = await account.client.post(CONFIRM, json={"token": token})
    assert response.status_code == 204
    session = await (await account.client.get("/api/v1/session")).get_json()
    assert session["email_verified"] is True
    # Used once.
    response = await account.client.post(CONFIRM, json={"token": token})
    await assert_problem(response, 400, "INVALID_TOKEN")


async def test_a_new_verification_mail_voids_the_old_link(signup, smtp, send) -> None:
    account = await signup()
    await send()
    old = smtp.mailbox.token(account.email)
    response = await account.client.post("/api/v1/users/me/email-verification")
    assert response.status_code == 202
    await send()
    assert len(smtp.mailbox.to(account.email)) == 2
    new = smtp.mailbox.token(account.email)
    response = await account.client.post("/api/v1/email-verification/confirm", json={"token": old})
    assert response.status_code == 400
    response = await account.client.post("/api/v1/email-verification/confirm", json={"token": new})
    assert response.status_code == 204


async def test_an_invitation_is_mailed_and_joins_only_once_its_address_is_verified(
    make_org, verified_signup, signup, smtp, send
) -> None:
    org_id, owner = await make_org(await verified_signup())
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": "dana@example.com", "role": "admin"}
    )
    assert response.status_code == 202
    await send()
    [invitation] = smtp.mailbox.to("dana@example.com")
    assert "Acme" in invitation.get_body(("html",)).get_content()
    assert "Acme" in invitation["Subject"]
    assert "http://kurz.test/#/register?email=dana%40example.com" in smtp.mailbox.text(invitation)

    # Someone registers the address without being able to read its mail: no seat.
    hijacker = await signup("dana@example.com")
    session = await (await hijacker.client.get("/api/v1/session")).get_json()
    assert session["orgs"] == []
    members = await (await owner.client.get(f"/api/v1/orgs/{org_id}/members")).get_json()
    assert [item["email"] for item in members["invitations"]] == ["dana@example.com"]
    response = await hijacker.client.get(f"/api/v1/orgs/{org_id}/links")
    assert response.status_code == 404

    # Whoever reads the address's mail verifies it, and only then the invitation counts.
    await send()
    response = await hijacker.client.post(
        "/api/v1/email-verification/confirm",
        json={"token": smtp.mailbox.token("dana@example.com")},
    )
    assert response.status_code == 204
    session = await (await hijacker.client.get("/api/v1/session")).get_json()
    assert session["orgs"] == [{"id": org_id, "name": "Acme", "role": "admin"}]


async def test_adding_a_registered_but_unverified_address_invites_it(
    make_org, verified_signup, signup, smtp, send
) -> None:
    org_id, owner = await make_org(await verified_signup())
    squatter = await signup("colleague@example.com")
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": "colleague@example.com", "role": "member"}
    )
    assert response.status_code == 202
    assert (await response.get_json())["email"] == "colleague@example.com"
    members = await (await owner.client.get(f"/api/v1/orgs/{org_id}/members")).get_json()
    assert [item["user_id"] for item in members["items"]] == [owner.id]
    assert (await squatter.client.get(f"/api/v1/orgs/{org_id}")).status_code == 404
    await send()
    assert any("Acme" in mail["Subject"] for mail in smtp.mailbox.to("colleague@example.com"))

    # A verified address is added at once, and told by mail with a link to the org.
    colleague = await verified_signup()
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": colleague.email, "role": "admin"}
    )
    assert response.status_code == 201
    await send()
    added = smtp.mailbox.to(colleague.email)[-1]
    assert added["Subject"] == "You were added to Acme on Kurz"
    assert "as admin" in smtp.mailbox.text(added)
    assert f"http://kurz.test/#/orgs/{org_id}/links" in smtp.mailbox.text(added)


async def test_mail_waits_out_an_smtp_outage_and_goes_out_once(app, signup, smtp, send) -> None:
    smtp.stop()
    account = await signup()
    await send()
    assert smtp.mailbox.messages == []
    db = services(app).db
    assert await db.fetch_val("SELECT count(*) FROM mails WHERE sent_at IS NULL") == 1
    assert await db.fetch_val("SELECT attempts FROM jobs WHERE kind = 'mail'") == 1

    await send(later=timedelta(minutes=1))  # still down: another attempt fails
    assert await db.fetch_val("SELECT attempts FROM jobs WHERE kind = 'mail'") == 2

    smtp.start()
    await send()  # not due yet: the queue waits out its back-off
    assert smtp.mailbox.messages == []
    await send(later=timedelta(hours=1))
    assert len(smtp.mailbox.to(account.email)) == 1
    await send(later=timedelta(days=2))
    assert len(smtp.mailbox.to(account.email)) == 1
    row = await db.fetch_one("SELECT sent_at, text_body FROM mails")
    assert row["sent_at"] is not None and row["text_body"] == ""  # the token is not kept
    assert await db.fetch_val("SELECT count(*) FROM jobs") == 0


async def test_a_mail_refused_for_good_is_not_retried(app, signup, smtp, send) -> None:
    smtp.mailbox.recipient_reply = "550 5.1.1 No such mailbox"
    await signup("nobody-there@example.com")
    await send()
    db = services(app).db
    job = await db.fetch_one("SELECT attempts, failed_at, last_error FROM jobs")
    assert job["attempts"] == 1 and job["failed_at"] is not None
    assert "550" in job["last_error"] and "No such mailbox" in job["last_error"]

    smtp.mailbox.recipient_reply = "250 OK"  # even once the server would take it
    await send(later=timedelta(days=2))
    assert smtp.mailbox.messages == []
    assert await db.fetch_val("SELECT attempts FROM jobs") == 1


async def test_a_mail_refused_for_now_is_retried(app, signup, smtp, send) -> None:
    smtp.mailbox.data_reply = "451 4.3.0 Try again later"
    account = await signup()
    await send()
    db = services(app).db
    job = await db.fetch_one("SELECT attempts, failed_at, last_error FROM jobs")
    assert job["attempts"] == 1 and job["failed_at"] is None and "451" in job["last_error"]

    smtp.mailbox.data_reply = "250 OK"
    await send(later=timedelta(hours=1))
    [mail] = smtp.mailbox.to(account.email)
    assert mail["Subject"] == "Confirm your email address for Kurz"
    assert await db.fetch_val("SELECT count(*) FROM jobs") == 0


async def test_two_instances_send_each_mail_once(app, app_factory, settings, smtp, jobs) -> None:
    emails = [f"twin-{number}@example.com" for number in range(12)]
    for email in emails:
        response = await app.test_client().post("/api/v1/password-reset", json={"email": email})
        assert response.status_code == 202
        response = await app.test_client().post(
            "/api/v1/users", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 201
    other = app_factory(settings)  # a second instance on the same database
    async with other.test_app():
        other_jobs = services(other).jobs
        await other_jobs.stop()

        async def drain(worker) -> None:
            while await worker.run_due():
                pass

        await asyncio.gather(drain(jobs), drain(other_jobs), drain(jobs), drain(other_jobs))
    for email in emails:
        subjects = sorted(message["Subject"] for message in smtp.mailbox.to(email))
        assert subjects == ["Confirm your email address for Kurz", "Reset your Kurz password"]
    assert await services(app).db.fetch_val("SELECT count(*) FROM jobs") == 0


async def test_a_server_that_never_answers_is_given_up_on_and_retried(
    app_factory, settings, monkeypatch
) -> None:
    monkeypatch.setattr("kurz.mail.SMTP_TIMEOUT", 0.2)
    connections = []

    async def silent(reader, writer) -> None:  # accepts, then never says a word
        connections.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    app = app_factory(settings, smtp_url=f"smtp://127.0.0.1:{port}")
    try:
        async with app.test_app():
            jobs = services(app).jobs
            await jobs.stop()
            response = await app.test_client().post(
                "/api/v1/users", json={"email": "patient@example.com", "password": PASSWORD}
            )
            assert response.status_code == 201
            assert await asyncio.wait_for(jobs.run_due(), 60) == 1  # it ends, not hangs
            db = services(app).db
            job = await db.fetch_one("SELECT attempts, last_error FROM jobs")
            unsent = await db.fetch_val("SELECT count(*) FROM mails WHERE sent_at IS NULL")
    finally:
        for writer in connections:
            writer.close()
        server.close()
    assert connections  # it did try
    assert job["attempts"] == 1 and "timed out" in job["last_error"].lower()
    assert unsent == 1  # kept for the next try


async def test_a_mail_marked_sent_is_never_sent_again(app, signup, smtp, send) -> None:
    await signup()
    db = services(app).db
    # As if an instance sent it and died before its job was finished.
    await db.execute("UPDATE mails SET sent_at = now()")
    await send()
    assert smtp.mailbox.messages == []


async def test_password_change_is_told_by_mail_and_audited(
    make_org, verified_signup, smtp, send
) -> None:
    account = await verified_signup()
    org_id, _ = await make_org(account)
    response = await account.client.put(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "a whole new passphrase here"},
    )
    assert response.status_code == 204
    await send()
    assert smtp.mailbox.to(account.email)[-1]["Subject"] == "Your Kurz password was changed"
    audit = await (await account.client.get(f"/api/v1/orgs/{org_id}/audit")).get_json()
    assert audit["items"][0]["action"] == "password.change"
    assert audit["items"][0]["target"] == account.id


async def test_turning_two_factor_off_is_told_by_mail(verified_signup, smtp, send) -> None:
    account = await verified_signup()
    await enable_two_factor(account.client)
    await send()
    mails = len(smtp.mailbox.to(account.email))
    response = await account.client.delete("/api/v1/users/me/totp", json={"password": "wrong"})
    assert response.status_code == 400
    await send()
    assert len(smtp.mailbox.to(account.email)) == mails  # nothing turned off, nothing told
    response = await account.client.delete("/api/v1/users/me/totp", json={"password": PASSWORD})
    assert response.status_code == 204
    await send()
    [notice] = smtp.mailbox.to(account.email)[mails:]
    assert notice["Subject"] == "Two-factor sign-in was turned off"
    assert "If this was not you" in smtp.mailbox.text(notice)


async def test_without_smtp_each_mail_is_logged(app_factory, settings, caplog) -> None:
    app = app_factory(settings, smtp_url=None, require_email_verification=False)
    async with app.test_app():
        jobs = services(app).jobs
        await jobs.stop()
        client = app.test_client()
        body = {"email": "logged@example.com", "password": PASSWORD}
        assert (await client.post("/api/v1/users", json=body)).status_code == 201
        response = await client.post("/api/v1/password-reset", json={"email": body["email"]})
        assert response.status_code == 202
        with caplog.at_level("INFO", logger="kurz.mail"):
            while await jobs.run_due():
                pass
    assert "mail to logged@example.com" in caplog.text
    assert "http://kurz.test/#/reset-password?token=" in caplog.text


async def test_an_invitation_to_an_org_with_a_non_ascii_name(
    make_org, verified_signup, smtp, send
) -> None:
    org_id, owner = await make_org(await verified_signup(), name="Zürich Ärzte")
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": "eva@example.com", "role": "member"}
    )
    assert response.status_code == 202
    await send()
    [mail] = smtp.mailbox.to("eva@example.com")
    assert mail["Subject"] == "You are invited to Zürich Ärzte on Kurz"
    assert "Zürich Ärzte" in smtp.mailbox.text(mail)
    assert "Zürich Ärzte" in unescape(mail.get_body(("html",)).get_content())


async def test_a_recovery_code_used_is_told_by_mail(client, verified_signup, smtp, send) -> None:
    account = await verified_signup()
    _, codes = await enable_two_factor(account.client)
    await send()
    mails = len(smtp.mailbox.to(account.email))
    body = {"email": account.email, "password": PASSWORD}
    response = await client.post("/api/v1/session", json=body | {"recovery_code": "0000-0000"})
    assert response.status_code == 401
    response = await client.post("/api/v1/session", json=body | {"recovery_code": codes[3]})
    assert response.status_code == 200
    await send()
    [notice] = smtp.mailbox.to(account.email)[mails:]
    assert notice["Subject"] == "A recovery code was used to log in to Kurz"
    assert "Unused recovery codes left: 9." in smtp.mailbox.text(notice)
