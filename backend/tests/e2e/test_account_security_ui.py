"""Forgot password, two-factor and single sign-on: through the browser, against real servers
(mail is logged by a server without SMTP; SSO runs against a real OpenID provider process)."""

import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pyotp
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Page, expect

from ..support import Mailbox, free_port
from .ui import DESKTOP, PASSWORD, add_member, call, create_org, open_app, sign_up, unique_email

NEW_PASSWORD = "a brand new passphrase 7"


def mailed_token(server, email: str, screen: str, timeout: float = 15) -> str:
    """The token of the latest link to ``screen`` mailed to ``email`` (written to the log)."""
    pattern = re.compile(rf"mail to {re.escape(email)},.*?#/{screen}\?token=([\w-]+)", re.S)
    deadline = time.monotonic() + timeout
    while True:
        found = pattern.findall(server.log())
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no {screen} mail to {email}"
        time.sleep(0.1)


def log_in(page: Page, email: str, password: str) -> None:
    form = page.get_by_test_id("login-form")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Log in").click()


def test_forgot_password_through_to_logging_in_with_the_new_one(
    page, context, watch, shared_live_server
) -> None:
    watch.expect(401, "POST", "/api/v1/session")
    person = sign_up(context)
    create_org(person, "Reset Co")
    call(context, "DELETE", "/session")

    open_app(page, "/login")
    page.get_by_test_id("forgot-link").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.get_by_test_id("forgot-form").get_by_label("Email").fill(person.email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_test_id("forgot-done")).to_contain_text("a link is on its way")

    token = mailed_token(shared_live_server, person.email, "reset-password")
    open_app(page, f"/reset-password?token={token}")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("heading", name="Log in to Kurz")).to_be_visible()

    log_in(page, person.email, PASSWORD)
    expect(page.get_by_test_id("login-form-alert")).to_contain_text("Wrong email or password")
    log_in(page, person.email, NEW_PASSWORD)
    expect(page.get_by_test_id("user-email")).to_have_text(person.email)


def test_two_factor_set_up_and_login(page, context, watch) -> None:
    watch.expect(401, "POST", "/api/v1/session")
    person = sign_up(context)
    org_id = create_org(person, "Safe Co")
    open_app(page, "/account")
    page.get_by_test_id("totp-start").click()
    expect(page.get_by_test_id("totp-qr")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor").click()
    codes = page.get_by_test_id("recovery-codes").locator("code")
    expect(codes).to_have_count(10)
    recovery = codes.first.inner_text()

    page.get_by_role("button", name="Log out").click()
    log_in(page, person.email, PASSWORD)
    step = page.get_by_test_id("second-step")
    expect(step).to_be_visible()
    # The code of the next 30 seconds: the current one was spent turning two-factor on.
    step.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    step.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("user-email")).to_have_text(person.email)

    page.get_by_role("button", name="Log out").click()
    log_in(page, person.email, PASSWORD)
    page.get_by_role("button", name="Use a recovery code instead").click()
    page.get_by_label("Recovery code").fill(recovery)
    page.get_by_test_id("second-step").get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("user-email")).to_have_text(person.email)

    # The account page lists these logins, newest first, and how each was made.
    open_app(page, "/account")
    rows = page.get_by_test_id("account-activity").locator("tbody tr")
    expect(rows.nth(0)).to_contain_text("with the password and a recovery code")
    expect(rows.nth(1)).to_contain_text("with the password and an authenticator code")
    expect(rows.nth(2)).to_contain_text("Turned on two-factor sign-in")

    # One code used: nine left, and new ones replace them all.
    section = page.get_by_test_id("totp-section")
    section.get_by_text("Recovery codes", exact=True).click()
    left = page.get_by_test_id("recovery-codes-left")
    expect(left).to_have_text("Unused recovery codes left: 9.")
    form = page.locator("#recovery-codes-form")
    form.get_by_label("Your password").fill(PASSWORD)
    form.get_by_role("button", name="Make new recovery codes").click()
    fresh = section.get_by_test_id("recovery-codes").locator("code")
    expect(fresh).to_have_count(10)
    expect(fresh.filter(has_text=recovery)).to_have_count(0)
    expect(left).to_have_text("Unused recovery codes left: 10.")

    # The org's members page shows its admins and owners who has two-factor on.
    open_app(page, f"/orgs/{org_id}/members")
    member_row = page.get_by_test_id("members-table").locator("tbody tr")
    expect(
        member_row.filter(has_text=person.email).get_by_test_id("two-factor-status")
    ).to_have_text("On")


def test_an_org_requiring_two_factor_shows_the_way_to_set_it_up(page, new_context, watch) -> None:
    watch.expect(403, "GET")
    owner_context = new_context()
    owner = sign_up(owner_context)
    org_id = create_org(owner, "Strict Co")
    member = sign_up(page.context)
    add_member(owner, org_id, member.email)
    call(owner_context, "PATCH", f"/orgs/{org_id}", {"require_2fa": True})

    open_app(page, f"/orgs/{org_id}/links")
    banner = page.get_by_test_id("require-2fa-banner")
    expect(banner).to_contain_text("Strict Co requires two-factor sign-in")
    banner.get_by_role("link", name="Set up two-factor sign-in").click()
    expect(page.get_by_test_id("totp-start")).to_be_visible()


def test_an_owner_sets_the_orgs_security_settings(page, context, watch) -> None:
    owner = sign_up(context)
    org_id = create_org(owner, "Guarded Co")
    open_app(page, f"/orgs/{org_id}/settings")
    form = page.locator("#org-security-form")
    # Without two-factor themselves, owners are warned they would be shut out too.
    expect(form).to_contain_text("you too must set it up")
    totp = pyotp.TOTP(call(context, "POST", "/users/me/totp")["secret"])
    call(context, "POST", "/users/me/totp/confirm", {"code": totp.now()})

    page.reload()  # the app learns of two-factor now on
    form.get_by_label("Single sign-on domains").wait_for()
    expect(form).not_to_contain_text("you too must set it up")
    form.get_by_label("Require two-factor sign-in for every member").check()
    form.get_by_label("Single sign-on domains").fill("Corp.Example, staff.corp.example")
    form.get_by_role("button", name="Save security settings").click()
    expect(page.get_by_text("Security settings saved.")).to_be_visible()

    org = call(context, "GET", f"/orgs/{org_id}")
    assert org["require_2fa"] is True
    assert org["sso_domains"] == ["corp.example", "staff.corp.example"]
    page.reload()
    expect(form.get_by_label("Require two-factor sign-in for every member")).to_be_checked()
    expect(form.get_by_label("Single sign-on domains")).to_have_value(
        "corp.example, staff.corp.example"
    )


# --- single sign-on: a server of its own, configured for a real OpenID provider -------------


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
            assert time.monotonic() < deadline and process.poll() is None, "no OIDC provider"
            time.sleep(0.1)
    yield issuer
    process.terminate()
    process.wait(10)


def test_sign_in_with_sso_through_the_providers_login_page(
    browser, watch, provider, database_url, live_server_factory
) -> None:
    server = live_server_factory(
        database_url,
        KURZ_OIDC_ISSUER=provider,
        KURZ_OIDC_CLIENT_ID="kurz",
        KURZ_OIDC_CLIENT_SECRET="kurz-secret",
    )
    email = unique_email("sso")
    httpx.put(
        f"{provider}/users/sso-user-1",
        json={"email": email, "email_verified": True, "name": "Sam"},
        timeout=5,
    ).raise_for_status()
    context = browser.new_context(base_url=server.base_url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    # The provider's page styles itself from a CDN, which this machine cannot reach.
    context.route(
        "https://cdn.jsdelivr.net/**",
        lambda route: route.fulfill(status=200, content_type="text/css", body=""),
    )
    watch.watch(context)
    try:
        page = context.new_page()
        open_app(page, "/login")
        page.get_by_test_id("sso-button").click()
        # The provider's own login page.
        page.get_by_placeholder("sub").fill("sso-user-1")
        page.get_by_role("button", name="Authorize").click()
        expect(page.get_by_test_id("user-email")).to_have_text(email)
        expect(page.get_by_role("heading", name="New organization")).to_be_visible()

        # With two-factor on, the provider's word is not enough: the code is asked for.
        totp = pyotp.TOTP(call(context, "POST", "/users/me/totp")["secret"])
        confirmed = call(context, "POST", "/users/me/totp/confirm", {"code": totp.now()})
        page.get_by_role("button", name="Log out").click()
        page.get_by_test_id("sso-button").click()
        page.get_by_placeholder("sub").fill("sso-user-1")
        page.get_by_role("button", name="Authorize").click()
        step = page.get_by_test_id("second-step")
        expect(step).to_be_visible()
        expect(page.get_by_test_id("user-email")).to_have_count(0)
        step.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
        step.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("user-email")).to_have_text(email)

        # Without a password, a recovery code (or a code from the app) turns two-factor off.
        open_app(page, "/account")
        form = page.locator("#totp-disable-form")
        field = form.get_by_label("Code from your authenticator app, or a recovery code")
        field.fill(confirmed["recovery_codes"][0])
        form.get_by_role("button", name="Turn off two-factor").click()
        expect(page.get_by_test_id("totp-start")).to_be_visible()

        # Without either, the sign-in of a moment ago confirms deleting the account.
        form = page.get_by_test_id("account-delete-form")
        expect(form.locator("input")).to_have_count(0)
        form.get_by_role("button", name="Delete my account").click()
        expect(page.get_by_role("heading", name="Log in to Kurz")).to_be_visible()
    finally:
        context.close()
    assert not watch.problems, "\n".join(watch.problems)


# --- email verification and deleting the account: a server of its own, with real SMTP -------


def test_the_verification_banner_stays_until_the_mailed_link_is_used(
    browser, watch, database_url, live_server_factory
) -> None:
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        server = live_server_factory(database_url, KURZ_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}")
        context = browser.new_context(base_url=server.base_url, viewport=DESKTOP)
        context.set_default_timeout(10_000)
        watch.watch(context)
        person = sign_up(context)
        page = context.new_page()
        open_app(page, "/orgs/new")
        banner = page.get_by_test_id("verify-banner")
        expect(banner).to_contain_text(person.email)
        deadline = time.monotonic() + 15
        while not mailbox.to(person.email):
            assert time.monotonic() < deadline, "no verification mail"
            time.sleep(0.1)
        link = re.search(r"https?://\S+", mailbox.text(mailbox.to(person.email)[0])).group(0)
        assert link.startswith(f"{server.base_url}/#/verify-email?token=")

        page.goto(link)
        expect(page.get_by_test_id("flash")).to_contain_text("Your email is confirmed")
        expect(page.get_by_test_id("verify-banner")).to_have_count(0)

        # And the account can go: the password is asked for, then it is gone.
        open_app(page, "/account")
        form = page.get_by_test_id("account-delete-form")
        form.get_by_label("Your password").fill(PASSWORD)
        form.get_by_role("button", name="Delete my account").click()
        expect(page.get_by_role("heading", name="Log in to Kurz")).to_be_visible()
        context.close()
    finally:
        smtp.stop()
    assert not watch.problems, "\n".join(watch.problems)
