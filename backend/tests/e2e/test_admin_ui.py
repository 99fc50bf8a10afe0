"""Members, invitations and API tokens through the browser."""

import re

import httpx
from playwright.sync_api import expect

from .ui import add_member, call, create_link, create_org, open_app, sign_up, unique_email


def row(page, testid: str, text: str):
    return page.get_by_test_id(testid).locator("tbody tr").filter(has_text=text)


def test_members_add_invite_change_role_and_remove(page, context, new_context) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Team Org")
    colleague = sign_up(new_context(), name="Colleague")
    stranger = unique_email("invitee")

    open_app(page, f"/orgs/{org}/members")
    expect(page.get_by_role("heading", name="Members of Team Org")).to_be_visible()
    expect(row(page, "members-table", owner.email)).to_contain_text("Owner")
    expect(page.get_by_test_id("invitations-table")).to_have_text("No pending invitations.")

    form = page.get_by_test_id("member-form")
    form.get_by_label("Email").fill(colleague.email)
    form.get_by_label("Role").select_option("member")
    form.get_by_role("button", name="Add member").click()
    expect(page.get_by_test_id("flash")).to_contain_text(f"{colleague.email} is now a member")
    expect(row(page, "members-table", colleague.email)).to_contain_text("Member")

    form.get_by_label("Email").fill(stranger)
    form.get_by_label("Role").select_option("admin")
    form.get_by_role("button", name="Add member").click()
    expect(page.get_by_test_id("invited")).to_contain_text("Kurz does not email them")
    expect(row(page, "invitations-table", stranger)).to_contain_text("Admin")

    page.get_by_role("button", name=f"Change role of {colleague.email}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Role").select_option("admin")
    dialog.get_by_role("button", name="Save role").click()
    expect(row(page, "members-table", colleague.email)).to_contain_text("Admin")
    members = call(context, "GET", f"/orgs/{org}/members")["items"]
    assert {m["email"]: m["role"] for m in members}[colleague.email] == "admin"

    page.get_by_role("button", name=f"Remove {colleague.email}").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(row(page, "members-table", colleague.email)).to_have_count(0)
    # The owner cannot remove themself from the table (leaving is a separate, explained step).
    expect(page.get_by_role("button", name=f"Remove {owner.email}")).to_have_count(0)


def test_last_owner_is_not_offered_leaving_or_stepping_down(page, context, new_context) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Solo Org")
    open_app(page, f"/orgs/{org}/members")
    leave = page.get_by_role("button", name="Leave organization")
    expect(leave).to_be_disabled()
    expect(leave).to_have_accessible_description(re.compile("only owner of Solo Org"))
    expect(page.get_by_role("button", name=f"Change role of {owner.email}")).to_be_disabled()
    # With a second owner, both become possible.
    colleague = sign_up(new_context())
    add_member(owner, org, colleague.email, "owner")
    page.reload()
    expect(page.get_by_role("button", name="Leave organization")).to_be_enabled()
    expect(page.get_by_role("button", name=f"Change role of {owner.email}")).to_be_enabled()


def test_members_see_a_read_only_team(page, context, new_context) -> None:
    owner = sign_up(new_context())
    org = create_org(owner, "Read Only Org")
    member = sign_up(context)
    add_member(owner, org, member.email)

    open_app(page, f"/orgs/{org}/members")
    expect(row(page, "members-table", owner.email)).to_contain_text("Owner")
    expect(page.get_by_test_id("member-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove")).to_have_count(0)
    expect(page.get_by_role("button", name="Change role")).to_have_count(0)
    for screen in ("tokens", "domains", "activity", "settings"):
        open_app(page, f"/orgs/{org}/{screen}")
        expect(page.get_by_text("Only admins and owners")).to_be_visible()
    for hidden in ("API tokens", "Domains", "Activity", "Settings"):
        expect(page.get_by_role("link", name=hidden)).to_have_count(0)


def test_admins_are_offered_only_what_they_may_do(page, context, new_context) -> None:
    owner = sign_up(new_context())
    org = create_org(owner, "Two Admins")
    admin, other_admin = sign_up(context), sign_up(new_context())
    for person in (admin, other_admin):
        add_member(owner, org, person.email, "admin")
    invitee = unique_email("future-admin")
    add_member(owner, org, invitee, "admin")

    open_app(page, f"/orgs/{org}/members")
    expect(row(page, "members-table", other_admin.email)).to_contain_text("Admin")
    # Only owners remove an admin or withdraw an admin's invitation.
    expect(page.get_by_role("button", name=f"Remove {other_admin.email}")).to_have_count(0)
    expect(page.get_by_role("button", name=f"Withdraw invitation for {invitee}")).to_have_count(0)


def test_a_role_changed_elsewhere_shows_on_the_next_screen(page, context, new_context) -> None:
    owner = sign_up(new_context())
    org = create_org(owner, "Promotions")
    member = sign_up(context)
    add_member(owner, org, member.email)
    open_app(page, f"/orgs/{org}/links")
    expect(page.get_by_test_id("current-role")).to_have_text("Member")
    expect(page.get_by_role("link", name="API tokens")).to_have_count(0)

    call(owner.context, "PATCH", f"/orgs/{org}/members/{member.id}", {"role": "admin"})
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_test_id("current-role")).to_have_text("Admin")
    expect(page.get_by_role("link", name="API tokens")).to_be_visible()
    expect(page.get_by_test_id("member-form")).to_be_visible()


def test_tokens_create_copy_use_and_revoke(page, context, base_url) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Token Org")
    open_app(page, f"/orgs/{org}/links")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    expect(page.get_by_test_id("tokens-table")).to_have_text("No API tokens yet.")

    form = page.get_by_test_id("token-form")
    form.get_by_label("Token name").fill("CI pipeline")
    form.get_by_label("Role").select_option("admin")
    form.get_by_role("button", name="Create token").click()
    secret = page.get_by_test_id("token-value")
    expect(secret).to_be_visible()
    expect(page.get_by_test_id("token-secret")).to_contain_text("will not be shown again")
    page.get_by_test_id("token-secret").get_by_role("button", name="Copy").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Copied token")
    token = secret.input_value()
    assert page.evaluate("navigator.clipboard.readText()") == token
    expect(row(page, "tokens-table", "CI pipeline")).to_contain_text("Admin")

    links = f"{base_url}/api/v1/orgs/{org}/links"
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(links, headers=bearer).status_code == 200

    page.reload()
    expect(row(page, "tokens-table", "CI pipeline")).to_be_visible()
    expect(page.get_by_test_id("token-secret")).to_be_hidden()  # shown once only
    assert token not in page.content()

    page.get_by_role("button", name="Revoke CI pipeline").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("tokens-table")).to_have_text("No API tokens yet.")
    expect(page.get_by_role("heading", name="Tokens", exact=True)).to_be_focused()
    assert httpx.get(links, headers=bearer).status_code == 401


def test_withdraw_invitation(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    invitee = unique_email("maybe")
    add_member(owner, org, invitee)
    open_app(page, f"/orgs/{org}/members")
    page.get_by_role("button", name=f"Withdraw invitation for {invitee}").click()
    expect(page.get_by_test_id("invitations-table")).to_have_text("No pending invitations.")
    assert call(context, "GET", f"/orgs/{org}/members")["invitations"] == []


def test_rename_see_activity_and_delete_org(page, context, base_url) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Old Name")
    link = create_link(owner, org)
    call(context, "POST", f"/orgs/{org}/tokens", {"name": "Robot", "role": "member"})

    open_app(page, f"/orgs/{org}/links")
    page.get_by_role("link", name="Settings").click()
    form = page.get_by_test_id("org-rename-form")
    form.get_by_label("Organization name").fill("New Name")
    form.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name="Settings of New Name")).to_be_visible()
    expect(page.get_by_test_id("org-picker").locator("option:checked")).to_have_text("New Name")

    page.get_by_role("link", name="Activity").click()
    log = page.get_by_test_id("audit-table")
    expect(log.locator("tbody tr").first).to_contain_text("Renamed the organization")
    expect(log).to_contain_text("from: Old Name")
    expect(log).to_contain_text("Created an API token")
    expect(log).to_contain_text(owner.email)

    page.get_by_role("link", name="Settings").click()
    delete = page.get_by_test_id("org-delete-form")
    delete.get_by_label("Type “New Name” to confirm").fill("new name")
    delete.get_by_role("button", name="Delete organization").click()
    expect(page.locator("#org-delete-form-confirm-error")).to_have_text(
        "Type the name exactly as shown."
    )
    delete.get_by_label("Type “New Name” to confirm").fill("New Name")
    delete.get_by_role("button", name="Delete organization").click()
    expect(page.get_by_role("heading", name="New organization")).to_be_visible()
    expect(page.get_by_test_id("org-picker")).to_have_count(0)
    assert httpx.get(f"{base_url}/{link['slug']}").status_code == 404


def test_an_owner_steps_down_while_another_owner_remains(page, context, new_context) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Two Owners")
    other_owner = sign_up(new_context())
    add_member(owner, org, other_owner.email, "owner")
    open_app(page, f"/orgs/{org}/members")

    page.get_by_role("button", name=f"Change role of {owner.email}").click()
    page.get_by_role("dialog").get_by_label("Role").select_option("admin")
    page.get_by_role("dialog").get_by_role("button", name="Save role").click()
    confirm = page.get_by_role("dialog", name="Become admin?")
    expect(confirm).to_contain_text("Only another owner can make you an owner")
    confirm.get_by_role("button", name="Step down").click()

    expect(page.get_by_test_id("current-role")).to_have_text("Admin")
    expect(row(page, "members-table", owner.email)).to_contain_text("Admin")
    # Admins neither change roles nor remove owners.
    expect(page.get_by_role("button", name="Change role")).to_have_count(0)
    expect(page.get_by_role("button", name=f"Remove {other_owner.email}")).to_have_count(0)
    members = call(context, "GET", f"/orgs/{org}/members")["items"]
    assert {m["email"]: m["role"] for m in members}[owner.email] == "admin"


def test_keyboard_focus_stays_in_place_after_member_actions(page, context, new_context) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Focus Org")
    colleague = sign_up(new_context())
    add_member(owner, org, colleague.email)
    invitee = unique_email("focus")
    add_member(owner, org, invitee)
    open_app(page, f"/orgs/{org}/members")

    change = page.get_by_role("button", name=f"Change role of {colleague.email}")
    change.click()
    page.get_by_role("dialog").get_by_label("Role").select_option("admin")
    page.get_by_role("dialog").get_by_role("button", name="Save role").click()
    expect(row(page, "members-table", colleague.email)).to_contain_text("Admin")
    expect(change).to_be_focused()

    page.get_by_role("button", name=f"Withdraw invitation for {invitee}").click()
    expect(page.get_by_test_id("invitations-table")).to_have_text("No pending invitations.")
    expect(page.get_by_role("heading", name="Pending invitations")).to_be_focused()

    page.get_by_role("button", name=f"Remove {colleague.email}").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(row(page, "members-table", colleague.email)).to_have_count(0)
    expect(page.get_by_role("heading", name="1 member")).to_be_focused()


def test_every_tab_is_on_screen_on_a_390px_phone(new_context) -> None:
    phone = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    owner = sign_up(phone)
    org = create_org(owner, "Phone Org")
    page = phone.new_page()
    open_app(page, f"/orgs/{org}/links")
    tabs = page.get_by_role("navigation", name="Main").get_by_role("link")
    expect(tabs).to_have_count(10)  # an owner sees every tab, in a row that scrolls sideways
    for tab in tabs.all():
        tab.scroll_into_view_if_needed()
        box = tab.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, tab.text_content()
    tabs.filter(has_text="Settings").tap()
    expect(page.get_by_role("heading", name="Settings of Phone Org")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # On a desktop they stay in one row.
    desk = new_context()
    org = create_org(sign_up(desk), "Desk Org")
    page = desk.new_page()
    open_app(page, f"/orgs/{org}/links")
    tabs = page.get_by_role("navigation", name="Main").get_by_role("link")
    assert len({tab.bounding_box()["y"] for tab in tabs.all()}) == 1
