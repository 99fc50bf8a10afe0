"""Tags, the org dashboard and CSV import through the browser."""

import httpx
from playwright.sync_api import Page, expect

from .ui import call, create_link, create_org, open_app, sign_up


def item(page: Page, slug: str):
    return page.locator(f'[data-testid="link-item"][data-slug="{slug}"]')


def test_tag_chips_and_filter(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    create_link(owner, org, slug=f"red-{org[:8]}", tags=["Red"])
    create_link(owner, org, slug=f"blue-{org[:8]}", tags=["Blue", "Red"])
    create_link(owner, org, slug=f"none-{org[:8]}")
    open_app(page, f"/orgs/{org}/links")
    expect(page.get_by_test_id("link-item")).to_have_count(3)
    expect(item(page, f"blue-{org[:8]}").get_by_test_id("tag-chip")).to_have_text(["Blue", "Red"])

    page.get_by_test_id("tag-filter").select_option("Blue")
    expect(page.get_by_test_id("link-item")).to_have_count(1)
    expect(item(page, f"blue-{org[:8]}")).to_be_visible()
    page.get_by_test_id("tag-filter").select_option("Red")
    expect(page.get_by_test_id("link-item")).to_have_count(2)
    assert "tag=Red" in page.url
    page.get_by_test_id("tag-filter").select_option("")
    expect(page.get_by_test_id("link-item")).to_have_count(3)

    open_app(page, f"/orgs/{org}/tags")
    expect(page.get_by_test_id("tags-table").locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Edit tag Red").click()
    page.get_by_label("Name").fill("Crimson")
    page.get_by_role("button", name="Save tag").click()
    expect(page.get_by_test_id("tags-table")).to_contain_text("Crimson")
    open_app(page, f"/orgs/{org}/links")
    expect(item(page, f"red-{org[:8]}").get_by_test_id("tag-chip")).to_have_text(["Crimson"])


def test_dashboard_shows_org_stats_and_countries(page, context, base_url) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    link = create_link(owner, org, slug=f"dash-{org[:8]}", title="Dashboard link")
    # The live server trusts 127.0.0.1 as a proxy, so the forwarded address is the visitor's.
    for address in ("8.8.8.8", "8.8.4.4", "193.0.6.139"):
        response = httpx.get(link["short_url"], headers={"X-Forwarded-For": address})
        assert response.status_code == 302
    open_app(page, f"/orgs/{org}/dashboard")
    expect(page.get_by_test_id("org-total-clicks")).to_have_text("3")
    expect(page.get_by_test_id("top-links")).to_contain_text("Dashboard link")
    countries = page.get_by_test_id("countries")
    expect(countries.locator("tbody tr")).to_have_count(2)
    expect(countries.locator("tbody tr").first).to_contain_text("United States")
    expect(countries.locator("tbody tr").nth(1)).to_contain_text("Netherlands")
    expect(countries.locator("meter")).to_have_count(2)
    expect(page.get_by_test_id("clicks-chart")).to_be_visible()


def test_csv_upload_shows_progress_and_errors(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    open_app(page, f"/orgs/{org}/import")
    csv = (
        "url,slug,tags\n"
        f"https://example.com/1,up-one-{org[:8]},csv\n"
        "not a url,,\n"
        f"https://example.com/3,up-three-{org[:8]},csv\n"
    )
    page.get_by_label("CSV file").set_input_files(
        {"name": "links.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    )
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-status")).to_have_text(
        "Done: 2 created, 0 already there, 1 failed, of 3 rows.", timeout=30_000
    )
    errors = page.get_by_test_id("import-errors")
    expect(errors.locator("tbody tr")).to_have_count(1)
    expect(errors.locator("tbody tr td").first).to_have_text("2")

    page.get_by_label("One URL per line").fill("https://example.com/a\nftp://nope\n")
    page.get_by_role("button", name="Shorten all").click()
    expect(page.get_by_test_id("batch-results").locator("tbody tr")).to_have_count(2)
    open_app(page, f"/orgs/{org}/links")
    expect(page.get_by_test_id("link-item")).to_have_count(3)


def choose(page: Page, slug: str, action: str) -> None:
    """Picks ``action`` from the link's row menu."""
    item(page, slug).get_by_role("button", name=f"Actions for {slug}").click()
    page.get_by_role("menuitem", name=action).click()


def test_tags_in_the_table_the_edit_form_the_export_and_bulk_actions(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    plain = create_link(owner, org, slug=f"plain-{org[:8]}", tags=["Red"])["slug"]
    both = create_link(owner, org, slug=f"both-{org[:8]}", tags=["Red", "Blue"], max_clicks=1)
    assert httpx.get(both["short_url"]).status_code == 302  # its one click

    # Several tags and the mode come from the address, and go on to the CSV export.
    open_app(page, f"/orgs/{org}/links?tag=Red&tag=Blue&tags_mode=all")
    expect(page.get_by_test_id("link-item")).to_have_count(1)
    expect(page.get_by_test_id("tag-filter")).to_have_value("Red,Blue")
    expect(item(page, both["slug"]).get_by_test_id("link-status")).to_have_text("Limit reached")
    export = page.get_by_test_id("links-export")
    href = export.get_attribute("href")
    assert href.endswith("/links/export.csv?tag=Red&tag=Blue&tags_mode=all"), href
    csv = page.request.get(page.url.split("/#")[0] + href)
    assert csv.ok and csv.headers["content-type"].startswith("text/csv")
    assert both["slug"] in csv.text() and plain not in csv.text()

    page.get_by_test_id("tag-filter").select_option("")
    expect(page.get_by_test_id("link-item")).to_have_count(2)
    assert "tag=" not in page.url
    assert "tag=" not in export.get_attribute("href")
    page.get_by_label("Status").select_option("limit_reached")
    expect(page.get_by_test_id("link-item")).to_have_count(1)
    page.get_by_label("Status").select_option("")

    # The edit form changes the tags (and nothing else).
    choose(page, plain, "Edit")
    dialog = page.get_by_role("dialog", name=f"Edit {plain}")
    expect(dialog.get_by_label("Tags", exact=True)).to_have_value("Red")
    dialog.get_by_label("Tags", exact=True).fill("Red, Green")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(item(page, plain).get_by_test_id("tag-chip")).to_have_text(["Green", "Red"])
    assert call(context, "GET", f"/orgs/{org}/links/{plain}")["tags"] == ["Green", "Red"]


def test_select_all_matching_a_tag_changes_only_those(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    items = [{"url": f"https://example.com/{n}", "tags": ["Batch"]} for n in range(51)]
    result = call(context, "POST", f"/orgs/{org}/links/batch", {"items": items})
    assert {one["status"] for one in result["items"]} == {201}
    other = create_link(owner, org, slug=f"other-{org[:8]}")["slug"]
    open_app(page, f"/orgs/{org}/links")
    page.get_by_test_id("tag-filter").select_option("Batch")
    expect(page.get_by_test_id("links-count")).to_have_text("51 links")
    page.get_by_test_id("select-page").check()
    page.get_by_test_id("select-all-matching").click()
    expect(page.get_by_test_id("bulk-count")).to_have_text("All 51 matching links selected")
    page.get_by_role("region", name="Selected links").get_by_role("button", name="Disable").click()
    expect(page.get_by_test_id("flash")).to_contain_text("51 links disabled")
    assert call(context, "GET", f"/orgs/{org}/links?status=disabled&tag=Batch")["total"] == 51
    assert call(context, "GET", f"/orgs/{org}/links/{other}")["disabled"] is False


def test_the_dashboard_tag_filter(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    hot = create_link(owner, org, slug=f"hot-{org[:8]}", tags=["Hot"])
    cold = create_link(owner, org, slug=f"cold-{org[:8]}")
    for link in (hot, hot, cold):
        assert httpx.get(link["short_url"]).status_code == 302
    open_app(page, f"/orgs/{org}/dashboard")
    expect(page.get_by_test_id("org-total-clicks")).to_have_text("3")
    page.get_by_test_id("tag-filter").select_option("Hot")
    expect(page.get_by_test_id("org-total-clicks")).to_have_text("2")
    assert "tag=Hot" in page.url
