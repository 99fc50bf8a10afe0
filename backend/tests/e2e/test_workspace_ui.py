"""The links workspace in the browser: the compact table, sort and filters kept in the address,
bulk actions, messages, phone layout, and a logged-out visit that logs nothing."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .test_links_ui import CHROME, click, wait_for_clicks
from .ui import Watch, add_member, call, create_link, create_org, open_app, sign_up, unique_email

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def rows(page: Page):
    return page.get_by_test_id("link-item")


def row(page: Page, slug: str):
    return page.locator(f'[data-testid="link-item"][data-slug="{slug}"]')


def no_sideways_scrolling(page: Page) -> None:
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_the_table_is_compact_with_one_tab_stop_per_row(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    slugs = [create_link(owner, org, title=f"Post {n}")["slug"] for n in range(3)]
    open_app(page, f"/orgs/{org}/links")
    expect(rows(page)).to_have_count(3)
    expect(page.get_by_test_id("links-count")).to_have_text("3 links")
    height = row(page, slugs[0]).bounding_box()["height"]
    assert 40 <= height <= 60, height
    first = row(page, slugs[2])  # newest first
    expect(first).to_contain_text(re.compile(rf"[^/]+/{slugs[2]}"))
    expect(first).not_to_contain_text("http://")
    expect(first).to_contain_text("example.com")
    expect(first.locator("time")).to_have_attribute("title", re.compile(r"\d"))

    first.get_by_role("checkbox").focus()
    page.keyboard.press("ArrowRight")
    expect(first.get_by_role("link")).to_be_focused()
    page.keyboard.press("Tab")  # one Tab: the next row, not the copy button of this one
    expect(row(page, slugs[1]).get_by_role("checkbox")).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(first.get_by_role("checkbox")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"#/orgs/{org}/links/{slugs[2]}$"))


def test_row_menu_disables_enables_and_deletes(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    keep = create_link(owner, org)["slug"]
    slug = create_link(owner, org)["slug"]
    open_app(page, f"/orgs/{org}/links")
    target = row(page, slug)
    target.get_by_role("button", name=f"Actions for {slug}").click()
    page.get_by_role("menuitem", name="Disable").click()
    expect(target.get_by_test_id("link-status")).to_have_text("Disabled")
    expect(target).to_have_class(re.compile("is-dimmed"))
    assert call(context, "GET", f"/orgs/{org}/links/{slug}")["disabled"] is True

    target.get_by_role("button", name=f"Actions for {slug}").click()
    page.get_by_role("menuitem", name="Enable").click()
    expect(target.get_by_test_id("link-status")).to_have_text("Active")

    target.get_by_role("button", name=f"Actions for {slug}").click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete link").click()
    expect(target).to_have_count(0)
    expect(page.get_by_test_id("links-count")).to_have_text("1 link")
    # Focus moves on to the next row rather than dropping to the page.
    expect(row(page, keep).get_by_role("checkbox")).to_be_focused()


def test_sort_and_filters_are_kept_in_the_address(page, context, watch: Watch) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    create_link(owner, org, title="Docs")
    off = create_link(owner, org, title="Old docs")["slug"]
    call(context, "PATCH", f"/orgs/{org}/links/{off}", {"disabled": True})
    open_app(page, f"/orgs/{org}/links")
    expect(rows(page)).to_have_count(2)

    page.get_by_label("Sort").select_option("clicks")
    expect(page).to_have_url(re.compile(r"sort=clicks"))
    page.get_by_label("Status").select_option("disabled")
    expect(page).to_have_url(re.compile(r"status=disabled"))
    expect(rows(page)).to_have_count(1)
    page.get_by_label("Creator").select_option("me")
    expect(page).to_have_url(re.compile(r"created_by=me"))
    page.get_by_label("Search links").fill("docs")
    expect(page).to_have_url(re.compile(r"q=docs"))
    page.get_by_label("Created from").fill("2020-01-01")
    expect(page).to_have_url(re.compile(r"created_after=2020-01-01T"))
    page.get_by_label("Created until").fill("2099-12-31")
    expect(page).to_have_url(re.compile(r"created_before=2100-01-01T"))
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_test_id("links-count")).to_have_text("1 link")

    page.reload()
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_label("Sort")).to_have_value("clicks")
    expect(page.get_by_label("Status")).to_have_value("disabled")
    expect(page.get_by_label("Creator")).to_have_value("me")
    expect(page.get_by_label("Search links")).to_have_value("docs")
    expect(page.get_by_label("Created from")).to_have_value("2020-01-01")
    expect(page.get_by_label("Created until")).to_have_value("2099-12-31")

    page.get_by_label("Created until").fill("2020-01-02")
    expect(page.get_by_test_id("links-status")).to_have_text("No links match these filters.")


def test_bulk_select_ranges_all_matching_and_each_action(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    slugs = [create_link(owner, org)["slug"] for _ in range(52)][::-1]  # newest first
    open_app(page, f"/orgs/{org}/links")
    expect(rows(page)).to_have_count(50)
    expect(page.get_by_test_id("links-count")).to_have_text("52 links")

    row(page, slugs[0]).get_by_role("checkbox").click()
    row(page, slugs[3]).get_by_role("checkbox").click(modifiers=["Shift"])
    expect(page.get_by_test_id("bulk-count")).to_have_text("4 selected")
    page.get_by_role("region", name="Selected links").get_by_role("button", name="Disable").click()
    expect(page.get_by_test_id("flash")).to_contain_text("4 links disabled")
    expect(row(page, slugs[2]).get_by_test_id("link-status")).to_have_text("Disabled")
    assert call(context, "GET", f"/orgs/{org}/links?status=disabled")["total"] == 4

    with page.expect_download() as download:
        row(page, slugs[0]).get_by_role("checkbox").click()
        row(page, slugs[1]).get_by_role("checkbox").click()
        page.get_by_role("button", name="Export CSV").click()
    text = open(download.value.path()).read()
    assert text.splitlines()[0].startswith("slug,short_url,url")
    assert slugs[0] in text and slugs[1] in text and slugs[5] not in text

    page.get_by_test_id("select-page").check()
    page.get_by_test_id("select-all-matching").click()
    expect(page.get_by_test_id("bulk-count")).to_have_text("All 52 matching links selected")
    page.get_by_role("region", name="Selected links").get_by_role("button", name="Enable").click()
    expect(page.get_by_test_id("flash")).to_contain_text("4 links enabled")
    # The list is drawn again after the action: check the page's box on the new one.
    expect(page.get_by_test_id("link-status").filter(has_text="Disabled")).to_have_count(0)

    page.get_by_test_id("select-page").check()
    page.get_by_test_id("select-all-matching").click()
    page.get_by_role("region", name="Selected links").get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete 52 links?")
    dialog.get_by_role("button", name="Delete 52 links").click()
    expect(page.get_by_test_id("links-status")).to_contain_text("No links yet")
    assert call(context, "GET", f"/orgs/{org}/links")["total"] == 0


def test_bulk_add_and_remove_a_tag_shows_in_the_chips(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    tagged = create_link(owner, org, tags=["Launch"])["slug"]
    bare, untouched = (create_link(owner, org)["slug"] for _ in range(2))
    open_app(page, f"/orgs/{org}/links")
    bar = page.get_by_role("region", name="Selected links")

    row(page, tagged).get_by_role("checkbox").click()
    row(page, bare).get_by_role("checkbox").click()
    bar.get_by_role("button", name="Add tag").click()
    dialog = page.get_by_role("dialog", name="Add tags to 2 links")
    dialog.get_by_label("Tags").fill("Summer, launch")
    dialog.get_by_role("button", name="Add tags").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Tagged 2 links with Summer, launch")
    expect(dialog).to_have_count(0)
    expect(bar).to_be_hidden()
    for slug in (tagged, bare):
        expect(row(page, slug).get_by_test_id("tag-chip")).to_have_text(["Launch", "Summer"])
    expect(row(page, untouched).get_by_test_id("tag-chip")).to_have_count(0)

    row(page, tagged).get_by_role("checkbox").click()
    row(page, untouched).get_by_role("checkbox").click()
    bar.get_by_role("button", name="Remove tag").click()
    dialog = page.get_by_role("dialog", name="Remove tags from 2 links")
    dialog.get_by_label("Tags").fill("SUMMER")
    dialog.get_by_role("button", name="Remove tags").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Took SUMMER off 1 link")
    expect(row(page, tagged).get_by_test_id("tag-chip")).to_have_text(["Launch"])
    expect(row(page, bare).get_by_test_id("tag-chip")).to_have_text(["Launch", "Summer"])
    assert call(context, "GET", f"/orgs/{org}/links?tag=summer")["total"] == 1
    # Each link's own history names its tags before and after.
    open_app(page, f"/orgs/{org}/activity?link={tagged}")
    log = page.get_by_test_id("audit-table").locator("tbody tr")
    expect(log).to_have_count(3)
    expect(log.nth(0)).to_contain_text("Tags: Launch, Summer → Launch")
    expect(log.nth(1)).to_contain_text("Tags: Launch → Launch, Summer")


def test_error_messages_close_and_messages_clear_on_navigation(page, context, watch) -> None:
    watch.expect(409, "POST")
    owner = sign_up(context)
    org = create_org(owner)
    taken = create_link(owner, org)["slug"]
    open_app(page, f"/orgs/{org}/links")
    # A failed bulk action's message is an error that can be closed.
    call(context, "DELETE", f"/orgs/{org}/links/{taken}")
    watch.expect(404, "POST")
    row(page, taken).get_by_role("checkbox").click()
    page.get_by_role("region", name="Selected links").get_by_role("button", name="Disable").click()
    message = page.get_by_test_id("flash")
    expect(message).to_contain_text("No such link")
    message.get_by_role("button", name="Close message").click()
    expect(message).to_be_empty()
    row(page, taken).get_by_role("button", name=f"Copy short URL for {taken}").click()
    expect(message).to_contain_text("Copied")
    page.get_by_role("link", name="Members").click()
    expect(page.locator("main h1")).to_contain_text("Members")
    expect(message).to_be_empty()


def test_phone_shows_cards_without_sideways_scrolling(new_context) -> None:
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    owner = sign_up(context)
    org = create_org(owner)
    slug = create_link(owner, org, url="https://example.com/" + "x" * 300, title="T" * 120)["slug"]
    open_app(page, f"/orgs/{org}/links")
    expect(row(page, slug)).to_contain_text(slug)
    no_sideways_scrolling(page)
    for screen in ("members", "tokens", "activity", "settings"):
        open_app(page, f"/orgs/{org}/{screen}")
        no_sideways_scrolling(page)


def test_the_logged_out_landing_page_asks_nothing_that_fails(page, watch: Watch) -> None:
    watch.allowed.clear()  # not even the session probe's 401
    messages = []
    page.on("console", lambda message: messages.append(message))
    open_app(page, "/")
    expect(page.locator("main h1")).to_be_visible()
    assert [m.text for m in messages if m.type in ("error", "warning")] == []


def test_activity_names_changes_and_filters_them_in_the_address(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    token = call(context, "POST", f"/orgs/{org}/tokens", {"name": "Robot", "role": "admin"})
    first = create_link(owner, org, url="https://example.com/old")["slug"]
    call(context, "PATCH", f"/orgs/{org}/links/{first}", {"url": "https://example.com/new"})
    robots = page.context.request.post(
        f"/api/v1/orgs/{org}/links",
        data={"url": "https://example.com/robot"},
        headers={"Authorization": f"Bearer {token['token']}"},
    )
    assert robots.status == 201
    robot = robots.json()["slug"]

    open_app(page, f"/orgs/{org}/links/{first}")
    page.get_by_test_id("link-history").click()
    expect(page).to_have_url(re.compile(rf"activity\?link={first}$"))
    log = page.get_by_test_id("audit-table")
    expect(log.locator("tbody tr")).to_have_count(2)
    expect(log.locator("tbody tr").first).to_contain_text(
        "Destination: https://example.com/old → https://example.com/new"
    )
    expect(log.locator("tbody tr").nth(1)).to_contain_text("Created a link")
    when = log.locator("tbody tr").first.locator("td").first
    assert when.evaluate("cell => getComputedStyle(cell).whiteSpace") == "nowrap"

    page.get_by_label("Link").fill("")
    page.get_by_label("Link").press("Enter")
    page.get_by_label("Who").select_option(label="Token “Robot”")
    expect(page).to_have_url(re.compile(rf"actor={token['id']}"))
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log).to_contain_text("API token “Robot”")
    expect(log).to_contain_text(robot)
    page.get_by_label("Who").select_option("")
    page.get_by_label("What").select_option("token.create")
    expect(page).to_have_url(re.compile(r"action=token.create"))
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log).to_contain_text("Created an API token")

    page.reload()
    expect(page.get_by_label("What")).to_have_value("token.create")
    expect(log.locator("tbody tr")).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_test_id("audit-export").click()
    lines = open(download.value.path()).read().splitlines()
    assert lines[0].startswith("id,at,actor_id")
    assert len(lines) == 2 and "token.create" in lines[1]


def test_phone_tables_are_cards(new_context) -> None:
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    owner = sign_up(context)
    org = create_org(owner)
    create_org(owner, "A second organization with a long name")
    call(
        context,
        "POST",
        f"/orgs/{org}/tokens",
        {"name": "A robot with a long name", "role": "member"},
    )
    for screen, testid in (
        ("members", "members-table"),
        ("tokens", "tokens-table"),
        ("activity", "audit-table"),
    ):
        open_app(page, f"/orgs/{org}/{screen}")
        first_row = page.get_by_test_id(testid).locator("tbody tr").first
        expect(first_row).to_be_visible()
        assert first_row.evaluate("row => getComputedStyle(row).display") == "block"
        no_sideways_scrolling(page)
        # The header leaves the screen to the content.
        header = page.locator("header").first.bounding_box()
        assert header["height"] <= 0.12 * PHONE["height"], header


def test_no_dead_ends_token_secret_and_org_picker(page, context) -> None:
    owner = sign_up(context)
    first = create_org(owner, "First Org")
    second = create_org(owner, "Second Org")
    open_app(page, f"/orgs/{first}/tokens")
    form = page.get_by_test_id("token-form")
    form.get_by_label("Token name").fill("Short lived")
    form.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("token-secret")).to_be_visible()
    page.get_by_role("button", name="Revoke Short lived").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("tokens-table")).to_have_text("No API tokens yet.")
    expect(page.get_by_test_id("token-secret")).to_be_hidden()

    # Arrow keys on the org picker do not switch organisations; Enter does.
    picker = page.get_by_test_id("org-picker")
    picker.focus()
    page.keyboard.press("ArrowDown")
    expect(page).to_have_url(re.compile(rf"#/orgs/{first}/tokens$"))
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"#/orgs/{second}/links$"))
    # The new header is in (the old picker shows "Second Org" too, once the arrow has moved it).
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Links")).to_have_attribute(
        "href", f"#/orgs/{second}/links"
    )
    expect(picker.locator("option:checked")).to_have_text("Second Org")
    # A pick with the mouse switches at once.
    page.get_by_test_id("org-picker").select_option(label="First Org")
    expect(page).to_have_url(re.compile(rf"#/orgs/{first}/links$"))


def test_a_list_that_fails_to_load_says_so_for_people_and_offers_a_retry(
    page, context, watch: Watch
) -> None:
    watch.expect(502, "GET")
    owner = sign_up(context)
    org = create_org(owner)
    slug = create_link(owner, org)["slug"]
    # A proxy in front of Kurz answers with its own HTML error page.
    page.route(
        "**/links?*",
        lambda route: route.fulfill(status=502, content_type="text/html", body="<h1>502</h1>"),
    )
    open_app(page, f"/orgs/{org}/links")
    status = page.get_by_test_id("links-status")
    expect(status).to_contain_text("The service did not answer. Please try again in a moment.")
    page.unroute("**/links?*")
    status.get_by_role("button", name="Try again").click()
    expect(row(page, slug)).to_be_visible()


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    results = Axe().run(page)
    return [
        f"{violation['id']}: {[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_workspace_screen_passes_axe(viewport, new_context, base_url) -> None:
    context = new_context(viewport=viewport)
    found = {}
    visitor = context.new_page()
    for screen in ("login", "register"):
        open_app(visitor, f"/{screen}")
        found[screen] = serious_violations(visitor)
    owner = sign_up(context)
    page = context.new_page()
    org = create_org(owner)
    call(context, "POST", f"/orgs/{org}/tokens", {"name": "Robot", "role": "member"})
    slugs = [create_link(owner, org, title=f"Post {n}")["slug"] for n in range(3)]
    call(context, "PATCH", f"/orgs/{org}/links/{slugs[0]}", {"disabled": True})
    click(base_url, slugs[2], CHROME, "https://news.example.org/")
    wait_for_clicks(context, f"/orgs/{org}/links/{slugs[2]}/stats", 1)

    open_app(page, f"/orgs/{org}/links")
    expect(rows(page)).to_have_count(3)
    found["links"] = serious_violations(page)
    row(page, slugs[1]).get_by_role("checkbox").click()
    row(page, slugs[1]).get_by_role("button", name=f"Actions for {slugs[1]}").click()
    expect(page.get_by_role("menuitem", name="Edit")).to_be_visible()
    found["links with selection and menu"] = serious_violations(page)
    open_app(page, f"/orgs/{org}/links/{slugs[1]}")
    expect(page.get_by_test_id("stats-empty")).to_be_visible()
    found["link"] = serious_violations(page)
    no_sideways_scrolling(page)
    open_app(page, f"/orgs/{org}/links/{slugs[2]}")
    expect(page.get_by_test_id("stats-referrers")).to_be_visible()
    found["link with clicks"] = serious_violations(page)
    no_sideways_scrolling(page)
    for screen, testid in (
        ("members", "members-table"),
        ("tokens", "tokens-table"),
        ("activity", "audit-table"),
    ):
        open_app(page, f"/orgs/{org}/{screen}")
        expect(page.get_by_test_id(testid)).to_be_visible()
        found[screen] = serious_violations(page)
        no_sideways_scrolling(page)
    for screen in (f"/orgs/{org}/settings", "/account", "/orgs/new"):
        open_app(page, screen)
        found[screen] = serious_violations(page)
        no_sideways_scrolling(page)
    assert {screen: problems for screen, problems in found.items() if problems} == {}


def test_an_invitation_is_a_link_to_share_and_says_which_org_was_joined(
    page, context, new_context
) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Invite Org")
    invitee = unique_email("invitee")
    open_app(page, f"/orgs/{org}/members")
    form = page.get_by_test_id("member-form")
    form.get_by_label("Email").fill(invitee)
    form.get_by_role("button", name="Add member").click()
    invited = page.get_by_test_id("invited")
    expect(invited).to_contain_text("Kurz does not email them: share this link")
    link = invited.get_by_label("Sign-up link").input_value()
    assert link.endswith("/#/register?email=" + invitee.replace("@", "%40"))

    stranger = new_context().new_page()
    stranger.goto(link)
    expect(stranger.get_by_label("Email")).to_have_value(invitee)
    stranger.get_by_label("Password", exact=True).fill("correct horse battery staple")
    stranger.get_by_role("button", name="Create account").click()
    expect(stranger.get_by_test_id("flash")).to_contain_text(
        "You were invited and joined Invite Org (Member)"
    )


def test_a_member_is_told_before_a_bulk_change_of_others_links(page, context, new_context) -> None:
    owner = sign_up(new_context())
    org = create_org(owner)
    member = sign_up(context)
    add_member(owner, org, member.email)
    theirs = create_link(owner, org)["slug"]
    mine = [create_link(member, org)["slug"] for _ in range(2)]
    open_app(page, f"/orgs/{org}/links")
    bar = page.get_by_role("region", name="Selected links")

    row(page, mine[0]).get_by_role("checkbox").click()
    expect(bar.get_by_role("button", name="Disable")).to_be_enabled()
    row(page, theirs).get_by_role("checkbox").click()
    expect(bar.get_by_role("button", name="Disable")).to_be_disabled()
    expect(bar.get_by_role("button", name="Delete")).to_have_accessible_description(
        "1 selected link is someone else's: members may change only their own links."
    )
    expect(bar.get_by_role("button", name="Export CSV")).to_be_enabled()

    # All matching: only with "My links", which a member may change as a whole.
    page.get_by_label("Creator").select_option("me")
    expect(rows(page)).to_have_count(2)
    page.get_by_test_id("select-page").check()
    expect(bar.get_by_role("button", name="Disable")).to_be_enabled()
    bar.get_by_role("button", name="Disable").click()
    expect(page.get_by_test_id("flash")).to_contain_text("2 links disabled")
    assert call(context, "GET", f"/orgs/{org}/links?status=disabled")["total"] == 2
