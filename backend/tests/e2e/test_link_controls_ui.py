"""The link controls in the browser: the UTM builder, and password, click limit, expired URL and
rules in the create and edit forms, their badges and the link page."""

from playwright.sync_api import Page, expect

from .ui import call, create_link, create_org, open_app, sign_up


def item(page: Page, slug: str):
    return page.locator(f'[data-testid="link-item"][data-slug="{slug}"]')


def choose(page: Page, slug: str, action: str) -> None:
    """Picks ``action`` from the link's row menu."""
    item(page, slug).get_by_role("button", name=f"Actions for {slug}").click()
    page.get_by_role("menuitem", name=action).click()


def test_the_utm_builder_composes_the_url_and_reads_it_back(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    slug = f"utm-{org[:8]}"
    open_app(page, f"/orgs/{org}/links")
    form = page.get_by_test_id("link-create-form")
    url = form.get_by_label("Destination URL")
    url.fill("https://example.com/page?x=1")
    form.get_by_text("More options").click()
    builder = form.get_by_test_id("utm-builder")
    builder.get_by_label("Source (utm_source)").fill("newsletter")
    builder.get_by_label("Medium (utm_medium)").fill("email")
    builder.get_by_label("Campaign (utm_campaign)").fill("spring sale")
    expect(url).to_have_value(
        "https://example.com/page?x=1&utm_source=newsletter&utm_medium=email"
        "&utm_campaign=spring+sale"
    )
    builder.get_by_label("Medium (utm_medium)").fill("")
    expect(url).to_have_value(
        "https://example.com/page?x=1&utm_source=newsletter&utm_campaign=spring+sale"
    )
    # Tags typed into the URL by hand show in the builder.
    url.fill("https://example.com/page?utm_source=ads&utm_term=shoes")
    expect(builder.get_by_label("Source (utm_source)")).to_have_value("ads")
    expect(builder.get_by_label("Term (utm_term)")).to_have_value("shoes")
    expect(builder.get_by_label("Campaign (utm_campaign)")).to_have_value("")
    builder.get_by_label("Content (utm_content)").fill("header")
    form.get_by_label("Custom short name").fill(slug)
    form.get_by_role("button", name="Shorten").click()
    expect(item(page, slug)).to_be_visible()
    link = call(context, "GET", f"/orgs/{org}/links/{slug}")
    assert (
        link["url"] == "https://example.com/page?utm_source=ads&utm_term=shoes&utm_content=header"
    )

    # Editing reads the tags back from the saved URL.
    choose(page, slug, "Edit")
    dialog = page.get_by_role("dialog", name=f"Edit {slug}")
    dialog.get_by_text("More options").click()
    expect(dialog.get_by_label("Source (utm_source)")).to_have_value("ads")
    expect(dialog.get_by_label("Content (utm_content)")).to_have_value("header")
    dialog.get_by_label("Source (utm_source)").fill("newsletter")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    link = call(context, "GET", f"/orgs/{org}/links/{slug}")
    assert link["url"] == (
        "https://example.com/page?utm_source=newsletter&utm_term=shoes&utm_content=header"
    )


def test_controls_in_the_form_badges_and_the_link_page(page, context, watch) -> None:
    watch.expect(400, "POST")
    owner = sign_up(context)
    org = create_org(owner)
    slug = f"ctl-{org[:8]}"
    open_app(page, f"/orgs/{org}/links")
    form = page.get_by_test_id("link-create-form")
    form.get_by_label("Destination URL").fill("https://example.com/offer")
    form.get_by_text("More options").click()
    form.get_by_label("Custom short name").fill(slug)
    form.get_by_label("Password", exact=True).fill("sesame")
    form.get_by_label("Click limit").fill("5")
    form.get_by_label("URL once over").fill("https://example.com/over")
    form.get_by_role("button", name="Add rule").click()
    rule = form.get_by_test_id("rule").nth(0)
    rule.get_by_label("Country").fill("de")
    rule.get_by_label("Device").select_option("mobile")
    rule.get_by_label("Send to").fill(page.url.split("/#")[0] + "/loop")
    form.get_by_role("button", name="Shorten").click()
    # A rule's URL error is shown at that rule's URL.
    expect(rule.locator(".rule-url .field-error")).to_contain_text("own short links")
    expect(page.locator("#link-create-form-url-error")).to_be_hidden()  # not the link's URL
    rule.get_by_label("Send to").fill("https://example.de/mobil")
    form.get_by_role("button", name="Shorten").click()

    row = item(page, slug)
    expect(row).to_contain_text("Locked")
    expect(row).to_contain_text("Limit 0/5")
    expect(row).to_contain_text("1 rule")
    link = call(context, "GET", f"/orgs/{org}/links/{slug}")
    assert link["password_protected"] is True
    assert link["max_clicks"] == 5 and link["clicks_remaining"] == 5
    assert link["expired_url"] == "https://example.com/over"
    assert link["rules"] == [
        {"country": "DE", "device": "mobile", "url": "https://example.de/mobil"}
    ]

    # The edit form shows the controls as they are and changes only what was changed.
    choose(page, slug, "Edit")
    dialog = page.get_by_role("dialog", name=f"Edit {slug}")
    dialog.get_by_text("More options").click()
    expect(dialog.get_by_label("Click limit")).to_have_value("5")
    expect(dialog.get_by_test_id("rule")).to_have_count(1)
    expect(dialog.get_by_test_id("rule").get_by_label("Country")).to_have_value("DE")
    dialog.get_by_label("Remove the password").check()
    dialog.get_by_label("Click limit").fill("")
    dialog.get_by_role("button", name="Remove rule").click()
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    link = call(context, "GET", f"/orgs/{org}/links/{slug}")
    assert link["password_protected"] is False
    assert link["max_clicks"] is None and link["rules"] == []
    assert link["expired_url"] == "https://example.com/over"
    expect(row).not_to_contain_text("Locked")

    other = create_link(
        owner,
        org,
        slug=f"page-{org[:8]}",
        password="sesame",
        max_clicks=10,
        rules=[{"os": "iOS", "url": "https://apps.apple.com/app/x"}],
    )
    open_app(page, f"/orgs/{org}/links/{other['slug']}")
    expect(page.get_by_test_id("detail-password")).to_have_text("Required")
    expect(page.get_by_test_id("detail-limit")).to_have_text("0 of 10 used")
    expect(page.get_by_test_id("detail-rules")).to_contain_text(
        "iOS → https://apps.apple.com/app/x"
    )
    expect(page.get_by_test_id("detail-status")).to_contain_text("Locked")
