"""Links through the browser: create, copy, search, page, edit, disable, delete, QR and stats."""

import re
import time

import httpx
from playwright.sync_api import Page, expect

from .ui import add_member, call, create_link, create_org, open_app, sign_up, wait_for_image

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0"


def item(page: Page, slug: str):
    return page.locator(f'[data-testid="link-item"][data-slug="{slug}"]')


def choose(page: Page, slug: str, action: str) -> None:
    """Picks ``action`` from the link's row menu."""
    item(page, slug).get_by_role("button", name=f"Actions for {slug}").click()
    page.get_by_role("menuitem", name=action).click()


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_create_link_with_options_and_copy_it(page, context, watch) -> None:
    watch.expect(400, "POST")
    watch.expect(409, "POST")
    owner = sign_up(context)
    org = create_org(owner)
    open_app(page, f"/orgs/{org}/links")
    expect(page.get_by_test_id("links-status")).to_have_text(
        "No links yet. Shorten your first URL above."
    )

    form = page.get_by_test_id("link-create-form")
    form.get_by_label("Destination URL").fill("https://example.com/a/very/long/path?x=1")
    form.get_by_text("More options").click()
    form.get_by_label("Custom short name").fill(f"launch-{org[:8]}")
    form.get_by_label("Title").fill("Launch post")
    form.get_by_label("Expires").fill("2031-06-30T12:00")
    form.get_by_role("button", name="Shorten").click()

    short_url = page.get_by_test_id("created-short-url")
    expect(short_url).to_have_value(f"{page.url.split('/#')[0]}/launch-{org[:8]}")
    page.get_by_test_id("created-link").get_by_role("button", name="Copy").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Copied")
    assert clipboard(page) == short_url.input_value()

    row = item(page, f"launch-{org[:8]}")
    expect(row).to_contain_text("Launch post")
    expect(row.locator(".col-dest")).to_have_attribute(
        "title", "https://example.com/a/very/long/path?x=1"
    )
    link = call(context, "GET", f"/orgs/{org}/links/launch-{org[:8]}")
    assert link["title"] == "Launch post"
    assert link["expires_at"].startswith("2031-06-30")  # in the browser's (UTC) time zone

    # Errors land next to the field that caused them.
    form.get_by_label("Destination URL").fill("https://example.com/other")
    form.get_by_label("Custom short name").fill(f"launch-{org[:8]}")
    form.get_by_role("button", name="Shorten").click()
    expect(page.locator("#link-create-form-slug-error")).to_have_text(
        "This short name is already taken. Try another one."
    )
    form.get_by_label("Custom short name").fill("")
    form.get_by_label("Destination URL").fill("ftp://example.com/file")
    form.get_by_role("button", name="Shorten").click()
    expect(page.locator("#link-create-form-url-error")).to_be_visible()
    expect(page.locator("#link-create-form-url-error")).not_to_be_empty()
    expect(page.get_by_test_id("link-item")).to_have_count(1)


def test_search_and_load_more(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    for number in range(53):
        create_link(owner, org, url=f"https://example.com/page/{number}", title=f"Page {number}")
    create_link(owner, org, url="https://example.com/haystack", title="The Needle report")
    create_link(owner, org, url="https://needle.example.org/", title="Other")

    open_app(page, f"/orgs/{org}/links")
    links = page.get_by_test_id("link-item")
    expect(links).to_have_count(50)
    expect(links.first).to_contain_text("needle.example.org")  # newest first
    page.get_by_role("button", name="Load more").focus()
    page.keyboard.press("Enter")
    expect(links).to_have_count(55)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    # The last page hides the button: keyboard focus goes on to the list, not to <body>.
    expect(page.get_by_role("table", name="Links")).to_be_focused()

    page.get_by_label("Search links").fill("NEEDLE")
    expect(links).to_have_count(2)
    page.get_by_label("Search links").fill("no such thing")
    expect(page.get_by_test_id("links-status")).to_have_text("No links match these filters.")
    page.get_by_label("Search links").fill("")
    expect(links).to_have_count(50)


def test_edit_disable_enable_and_delete(page, context, new_context, watch) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    link = create_link(owner, org, url="https://example.com/old", title="Old title")
    slug = link["slug"]
    open_app(page, f"/orgs/{org}/links")
    row = item(page, slug)

    choose(page, slug, "Edit")
    dialog = page.get_by_role("dialog", name=f"Edit {slug}")
    dialog.get_by_label("Destination URL").fill("https://example.com/new")
    dialog.get_by_label("Title").fill("New title")
    dialog.get_by_label("Redirect type").select_option("301")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("New title")
    expect(row.locator(".col-dest")).to_have_attribute("title", "https://example.com/new")
    changed = call(context, "GET", f"/orgs/{org}/links/{slug}")
    assert (changed["url"], changed["title"], changed["redirect_status"]) == (
        "https://example.com/new",
        "New title",
        301,
    )

    choose(page, slug, "Disable")
    expect(row.get_by_text("Disabled", exact=True)).to_be_visible()
    assert call(context, "GET", f"/orgs/{org}/links/{slug}")["disabled"] is True
    # A visitor's browser gets a styled page that says so (under the same strict CSP).
    watch.expect(410, "GET", f"/{slug}")
    visitor = new_context().new_page()
    assert visitor.goto(link["short_url"]).status == 410
    expect(visitor.get_by_role("heading")).to_be_visible()
    expect(visitor.locator("link[rel=stylesheet]")).to_have_count(1)
    assert visitor.evaluate("getComputedStyle(document.body).display") == "grid"
    choose(page, slug, "Enable")
    expect(row.get_by_text("Disabled", exact=True)).to_be_hidden()

    choose(page, slug, "Delete")
    confirm = page.get_by_role("dialog", name="Delete this link?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(row).to_be_visible()
    choose(page, slug, "Delete")
    confirm.get_by_role("button", name="Delete link").click()
    expect(row).to_have_count(0)
    assert context.request.get(f"/api/v1/orgs/{org}/links/{slug}").status == 404


def test_members_change_only_their_own_links(page, context, new_context) -> None:
    owner = sign_up(new_context())
    org = create_org(owner)
    theirs = create_link(owner, org, title="Owner's link")
    member = sign_up(context)
    add_member(owner, org, member.email)
    mine = create_link(member, org, title="My link")

    open_app(page, f"/orgs/{org}/links")
    for slug, allowed in ((mine["slug"], True), (theirs["slug"], False)):
        row = item(page, slug)
        expect(row.get_by_role("button", name=f"Copy short URL for {slug}")).to_be_visible()
        row.get_by_role("button", name=f"Actions for {slug}").click()
        expect(page.get_by_role("menuitem", name="Copy QR code")).to_be_visible()
        for action in ("Edit", "Disable", "Delete"):
            expect(page.get_by_role("menuitem", name=action)).to_have_count(int(allowed))
        page.keyboard.press("Escape")
    open_app(page, f"/orgs/{org}/links/{theirs['slug']}")
    expect(page.get_by_test_id("detail-url")).to_be_visible()
    expect(page.get_by_role("button", name=f"Delete {theirs['slug']}")).to_have_count(0)

    # The owner (like any admin) may change everyone's links.
    owner_page = owner.context.new_page()
    open_app(owner_page, f"/orgs/{org}/links")
    mine_slug = mine["slug"]
    item(owner_page, mine_slug).get_by_role("button", name=f"Actions for {mine_slug}").click()
    expect(owner_page.get_by_role("menuitem", name="Delete")).to_be_visible()


def click(base_url: str, slug: str, user_agent: str, referrer: str | None = None) -> None:
    headers = {"User-Agent": user_agent, **({"Referer": referrer} if referrer else {})}
    response = httpx.get(f"{base_url}/{slug}", headers=headers, follow_redirects=False)
    assert response.status_code == 302, response.text


def wait_for_clicks(context, path: str, count: int) -> None:
    """Clicks are written in batches about once a second."""
    deadline = time.monotonic() + 10
    while call(context, "GET", path)["total_clicks"] < count:
        assert time.monotonic() < deadline, "the clicks never showed up in the stats"
        time.sleep(0.2)


def test_link_detail_shows_qr_and_stats(page, context, base_url, tmp_path) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    link = create_link(owner, org, url="https://example.com/stats", title="Campaign")
    slug = link["slug"]
    click(base_url, slug, CHROME, "https://news.example.org/post/1")
    click(base_url, slug, CHROME, "https://news.example.org/post/2")
    click(base_url, slug, FIREFOX_ANDROID)
    wait_for_clicks(context, f"/orgs/{org}/links/{slug}/stats", 3)

    open_app(page, f"/orgs/{org}/links")
    item(page, slug).get_by_role("link").click()
    expect(page.get_by_role("heading", name="Campaign")).to_be_visible()
    expect(page).to_have_title("Campaign · Kurz")
    expect(page.get_by_test_id("detail-short-url")).to_have_value(link["short_url"])
    expect(page.get_by_test_id("stat-total-clicks")).to_have_text("3")

    chart = page.get_by_test_id("clicks-chart")
    expect(chart).to_be_visible()
    expect(chart.locator(".chart-bar")).to_have_count(30)
    assert "3 in total" in chart.get_attribute("aria-label")
    referrers = page.get_by_test_id("stats-referrers").locator("tbody tr")
    # The visit without a referrer has a row of its own: the table adds up to the total.
    expect(referrers).to_have_count(2)
    expect(referrers.first).to_contain_text("news.example.org")
    expect(referrers.first).to_contain_text(re.compile(r"2\s*66.7%"))
    expect(referrers.nth(1)).to_contain_text("Direct / unknown")
    expect(referrers.nth(1)).to_contain_text(re.compile(r"1\s*33.3%"))
    expect(page.get_by_test_id("stats-empty")).to_have_count(0)
    expect(page.get_by_test_id("stats-browsers")).to_contain_text("Chrome")
    expect(page.get_by_test_id("stats-browsers")).to_contain_text("Firefox")
    expect(page.get_by_test_id("stats-os")).to_be_visible()
    expect(page.get_by_test_id("stats-devices")).to_be_visible()

    page.get_by_label("Period").select_option("7")
    expect(chart.locator(".chart-bar")).to_have_count(7)

    qr = page.get_by_test_id("qr-image")
    expect(qr).to_have_attribute("alt", f"QR code for {link['short_url']}")
    wait_for_image(qr)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download QR code (PNG)").click()
    assert download.value.suggested_filename == f"kurz-{slug}.png"
    saved = tmp_path / "qr.png"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"\x89PNG")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download QR code (SVG)").click()
    assert download.value.suggested_filename == f"kurz-{slug}.svg"


def test_phone_sized_screen(new_context) -> None:
    phone = new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    owner = sign_up(phone)
    org = create_org(owner, "A rather long organization name")
    create_link(owner, org, url="https://example.com/" + "very-long-segment/" * 8, title="Long")
    page = phone.new_page()
    open_app(page, f"/orgs/{org}/links")
    expect(page.get_by_test_id("link-item")).to_have_count(1)
    # Nothing sticks out sideways: no horizontal scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.get_by_label("Destination URL").fill("https://example.com/from-a-phone")
    page.get_by_role("button", name="Shorten").tap()
    expect(page.get_by_test_id("link-item")).to_have_count(2)
    open_app(page, f"/orgs/{org}/members")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_slow_answers_show_loading_and_failures_offer_a_retry(page, context, watch) -> None:
    watch.expect(503, "GET")
    owner = sign_up(context)
    org = create_org(owner)
    slug = create_link(owner, org)["slug"]
    held = []
    page.route("**/stats?*", lambda route: held.append(route))  # answered later, by hand
    open_app(page, f"/orgs/{org}/links/{slug}")
    stats = page.get_by_test_id("stats")
    expect(stats.get_by_role("status")).to_have_text("Loading…")
    held[0].fulfill(
        status=503,
        content_type="application/problem+json",
        body='{"status": 503, "title": "Service Unavailable", "code": "DATABASE_UNAVAILABLE"}',
    )
    expect(stats.get_by_role("alert")).to_contain_text("briefly unavailable")
    page.unroute("**/stats?*")
    stats.get_by_role("button", name="Try again").click()
    # A link without clicks has one empty state, which prompts to share it.
    empty = page.get_by_test_id("stats-empty")
    expect(empty).to_contain_text("No clicks")
    expect(empty.get_by_role("button", name="Copy short link")).to_be_visible()
    expect(empty.get_by_role("link", name="Download QR code")).to_be_visible()
    expect(page.get_by_test_id("clicks-chart")).to_have_count(0)


def test_an_unknown_link_shows_its_error_once(page, context, watch) -> None:
    watch.expect(404, "GET")
    owner = sign_up(context)
    org = create_org(owner)
    open_app(page, f"/orgs/{org}/links/no-such-link")
    expect(page.get_by_role("alert").first).to_contain_text("No such link")
    page.wait_for_load_state("networkidle")  # every answer is in: nothing more will show up
    expect(page.get_by_role("alert")).to_have_count(1)
    expect(page.get_by_role("heading", name="Statistics")).to_be_hidden()
    # Asking again cannot bring an unknown link: no "Try again" offered.
    expect(page.get_by_role("button", name="Try again")).to_have_count(0)


def test_a_link_created_during_a_search_shows_only_if_it_matches(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    create_link(owner, org, url="https://needle.example.org/", title="Needle")
    create_link(owner, org, url="https://example.com/hay", title="Hay")
    open_app(page, f"/orgs/{org}/links")
    links = page.get_by_test_id("link-item")
    page.get_by_label("Search links").fill("needle")
    expect(links).to_have_count(1)

    form = page.get_by_test_id("link-create-form")
    form.get_by_label("Destination URL").fill("https://example.com/more-hay")
    form.get_by_role("button", name="Shorten").click()
    expect(page.get_by_test_id("created-short-url")).to_be_visible()
    created = page.get_by_test_id("created-short-url").input_value()
    expect(links).to_have_count(1)
    expect(links).to_contain_text("needle.example.org")

    form.get_by_label("Destination URL").fill("https://example.com/another-needle")
    form.get_by_role("button", name="Shorten").click()
    expect(page.get_by_test_id("created-short-url")).not_to_have_value(created)
    expect(links).to_have_count(2)
    expect(links.first.locator(".col-dest")).to_have_attribute(
        "title", "https://example.com/another-needle"
    )


def test_keyboard_focus_stays_in_place_after_link_actions(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    slug = create_link(owner, org)["slug"]
    older = create_link(owner, org)["slug"]
    create_link(owner, org)
    open_app(page, f"/orgs/{org}/links")
    row = item(page, slug)
    menu = row.get_by_role("button", name=f"Actions for {slug}")

    choose(page, slug, "Disable")
    expect(row.get_by_test_id("link-status")).to_have_text("Disabled")
    expect(menu).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="Enable")).to_be_focused()
    page.keyboard.press("Enter")
    expect(row.get_by_test_id("link-status")).to_have_text("Active")
    expect(menu).to_be_focused()

    choose(page, slug, "Edit")
    dialog = page.get_by_role("dialog", name=f"Edit {slug}")
    dialog.get_by_label("Title").fill("Renamed")
    dialog.get_by_role("button", name="Save changes").click()
    expect(row).to_contain_text("Renamed")
    expect(menu).to_be_focused()

    choose(page, slug, "Delete")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(menu).to_be_focused()
    choose(page, slug, "Delete")
    page.get_by_role("dialog").get_by_role("button", name="Delete link").click()
    expect(row).to_have_count(0)
    # Focus goes on to the next row.
    expect(item(page, older).get_by_role("checkbox")).to_be_focused()


def test_search_and_period_are_kept_in_the_address(page, context, base_url) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    needle = create_link(owner, org, url="https://needle.example.org/", title="Needle")["slug"]
    click(base_url, needle, CHROME)  # a link with clicks shows its chart
    wait_for_clicks(context, f"/orgs/{org}/links/{needle}/stats", 1)
    create_link(owner, org, url="https://example.com/hay", title="Hay")
    open_app(page, f"/orgs/{org}/links")
    links = page.get_by_test_id("link-item")
    page.get_by_label("Search links").fill("needle")
    expect(links).to_have_count(1)
    expect(page).to_have_url(re.compile(r"\?q=needle$"))

    page.reload()
    expect(page.get_by_label("Search links")).to_have_value("needle")
    expect(links).to_have_count(1)

    item(page, needle).get_by_role("link").click()
    chart = page.get_by_test_id("clicks-chart")
    expect(chart.locator(".chart-bar")).to_have_count(30)
    page.get_by_label("Period").select_option("7")
    expect(chart.locator(".chart-bar")).to_have_count(7)
    page.reload()
    expect(page.get_by_label("Period")).to_have_value("7")
    expect(chart.locator(".chart-bar")).to_have_count(7)

    page.go_back()
    expect(page.get_by_label("Search links")).to_have_value("needle")
    expect(links).to_have_count(1)
