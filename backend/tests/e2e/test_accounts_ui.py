"""Register, log in and out, change password, orgs and roles: through the browser."""

import re

from playwright.sync_api import Page, expect

from .ui import PASSWORD, add_member, call, create_org, open_app, sign_up, unique_email


def register(page: Page, email: str, password: str, name: str = "") -> None:
    form = page.get_by_test_id("register-form")
    form.get_by_label("Name (optional)").fill(name)
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Create account").click()


def log_in(page: Page, email: str, password: str) -> None:
    form = page.get_by_test_id("login-form")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Log in").click()


def test_register_explains_weak_passwords_and_taken_emails(page, watch) -> None:
    watch.expect(400, "POST", "/api/v1/users")
    watch.expect(409, "POST", "/api/v1/users")
    open_app(page, "/login")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your Kurz account")).to_be_visible()

    email = unique_email()
    register(page, email, "password1")
    password_error = page.locator("#register-form-password-error")
    expect(password_error).to_be_visible()
    expect(password_error).not_to_be_empty()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")

    register(page, email, PASSWORD, name="Ada")
    # A new user lands on "create your first organization", logged in.
    expect(page.get_by_role("heading", name="New organization")).to_be_visible()
    expect(page.get_by_test_id("user-email")).to_have_text(email)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Kurz")).to_be_visible()
    page.get_by_role("link", name="Create an account").click()
    register(page, email.upper(), PASSWORD)
    expect(page.locator("#register-form-email-error")).to_have_text(
        "An account with this email already exists."
    )


def test_log_in_wrong_password_then_right_one_and_out(page, context, watch) -> None:
    watch.expect(401, "POST", "/api/v1/session")
    person = sign_up(context)
    create_org(person, "Login Co")
    call(context, "DELETE", "/session")

    open_app(page, "/login")
    log_in(page, person.email, "not my password at all")
    expect(page.get_by_test_id("login-form-alert")).to_have_text("Wrong email or password.")

    log_in(page, person.email, PASSWORD)
    expect(page.get_by_role("heading", name="Links", exact=True)).to_be_visible()
    expect(page.get_by_test_id("user-email")).to_have_text(person.email)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Kurz")).to_be_visible()
    expect(page.get_by_test_id("flash")).to_contain_text("logged out")
    # The session is really gone, not just hidden: a deep link asks for a login again.
    open_app(page, "/account")
    expect(page.get_by_role("heading", name="Log in to Kurz")).to_be_visible()


def test_deep_link_returns_after_login(page, context) -> None:
    person = sign_up(context)
    call(context, "DELETE", "/session")
    open_app(page, "/account")
    log_in(page, person.email, PASSWORD)
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()


def test_back_leaves_the_app_instead_of_bouncing_off_redirects(page, context) -> None:
    sign_up(context)
    page.goto("about:blank")
    open_app(page, "/")  # redirected to creating a first org
    expect(page).to_have_url(re.compile(r"#/orgs/new$"))
    page.go_back()
    expect(page).to_have_url("about:blank")


def test_change_password(page, context, new_context, watch) -> None:
    watch.expect(400, "PUT", "/api/v1/users/me/password")
    watch.expect(401, "PUT", "/api/v1/users/me/password")
    watch.expect(403, "PUT", "/api/v1/users/me/password")
    watch.expect(401, "GET", "/api/v1/session")
    person = sign_up(context, name="Grace")
    other_device = new_context()
    call(other_device, "POST", "/session", {"email": person.email, "password": PASSWORD})

    open_app(page, "/")
    page.get_by_role("link", name=person.email).click()  # the account menu
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page).to_have_title("Your account · Kurz")
    form = page.get_by_test_id("password-form")
    form.get_by_label("Current password").fill("wrong wrong wrong")
    form.get_by_label("New password", exact=True).fill("a much better passphrase 42")
    form.get_by_role("button", name="Change password").click()
    wrong = page.locator("#password-form-current-password-error")
    expect(wrong).to_be_visible()
    expect(wrong).not_to_be_empty()
    expect(page.get_by_test_id("user-email")).to_be_visible()  # still logged in

    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password", exact=True).fill("password1")
    form.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-form-new-password-error")).not_to_be_empty()

    form.get_by_label("New password", exact=True).fill("a much better passphrase 42")
    form.get_by_role("button", name="Change password").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Password changed")
    # The other session stopped working; this one goes on.
    assert other_device.request.get("/api/v1/session").status == 401
    assert context.request.get("/api/v1/session").status == 200


def test_create_and_switch_orgs_showing_my_role(page, context, new_context) -> None:
    person = sign_up(context)
    open_app(page, "/")
    expect(page.get_by_role("heading", name="New organization")).to_be_visible()
    page.get_by_label("Organization name").fill("First Org")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name="Links", exact=True)).to_be_visible()
    expect(page.get_by_test_id("current-role")).to_have_text("Owner")

    page.get_by_role("link", name="New organization").click()
    page.get_by_label("Organization name").fill("Second Org")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_test_id("org-picker").locator("option:checked")).to_have_text("Second Org")

    # Someone else's org where this person is a plain member.
    boss = sign_up(new_context())
    third = create_org(boss, "Boss Org")
    add_member(boss, third, person.email)
    page.reload()
    picker = page.get_by_test_id("org-picker")
    expect(picker.locator("option")).to_have_count(3)
    picker.select_option(label="Boss Org")
    expect(page).to_have_url(re.compile(f"#/orgs/{third}/links$"))
    expect(page.get_by_test_id("current-role")).to_have_text("Member")
    # Members see neither token management nor member administration.
    expect(page.get_by_role("link", name="API tokens")).to_have_count(0)

    picker.select_option(label="First Org")
    expect(page.get_by_test_id("current-role")).to_have_text("Owner")
    expect(page.get_by_role("link", name="API tokens")).to_be_visible()
    # The last org used is where the next visit starts.
    open_app(page, "/")
    expect(picker.locator("option:checked")).to_have_text("First Org")


def test_keyboard_only_login(page, context) -> None:
    person = sign_up(context)
    call(context, "DELETE", "/session")
    open_app(page, "/login")
    # The first field has the focus, so typing starts right away.
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(person.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("user-email")).to_have_text(person.email)


def test_a_session_ended_elsewhere_asks_to_log_in_and_comes_back(
    page, context, new_context, watch
) -> None:
    watch.expect(401, "GET")
    person = sign_up(context)
    org = create_org(person, "Elsewhere Co")
    open_app(page, f"/orgs/{org}/links")

    laptop = new_context()
    call(laptop, "POST", "/session", {"email": person.email, "password": PASSWORD})
    new_password = "another fine passphrase 7"
    body = {"current_password": PASSWORD, "new_password": new_password}
    call(laptop, "PUT", "/users/me/password", body)

    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Log in to Kurz")).to_be_visible()
    expect(page.get_by_test_id("flash")).to_contain_text("Your session has ended")
    log_in(page, person.email, new_password)
    expect(page.get_by_role("heading", name="Members of Elsewhere Co")).to_be_visible()
