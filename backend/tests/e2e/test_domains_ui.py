"""The Domains page: add a domain, copy its TXT record, try to verify, edit, remove."""

from playwright.sync_api import expect

from .ui import call, create_org, open_app, sign_up


def test_domains_page(page, context, watch) -> None:
    watch.expect(400, "POST")  # a refused host name
    watch.expect(409, "POST")  # DNS has no record (the test server asks the system's DNS)
    owner = sign_up(context)
    org = create_org(owner, "Brand Org")
    open_app(page, f"/orgs/{org}/domains")
    expect(page.get_by_role("heading", name="Add a domain")).to_be_visible()
    expect(page.get_by_text("No domains yet.")).to_be_visible()

    form = page.get_by_test_id("domain-form")
    form.get_by_label("Host name").fill("localhost")
    form.get_by_role("button", name="Add domain").click()
    expect(form.locator(".field-error").first).to_contain_text("not a public DNS name")

    form.get_by_label("Host name").fill("Go.Brand-UI.example")
    form.get_by_role("button", name="Add domain").click()
    card = page.get_by_test_id("domain-card")
    expect(card).to_have_attribute("data-hostname", "go.brand-ui.example")
    expect(card.get_by_test_id("domain-status")).to_have_text("Waiting for DNS")
    name = card.get_by_test_id("txt-name-go.brand-ui.example")
    expect(name).to_have_value("_kurz-challenge.go.brand-ui.example")
    value = call(context, "GET", f"/orgs/{org}/domains")["items"][0]["verification"]["value"]
    expect(card.get_by_test_id("txt-value-go.brand-ui.example")).to_have_value(value)
    card.locator(".copy-row").nth(1).get_by_role("button", name="Copy").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Copied record value")
    assert page.evaluate("navigator.clipboard.readText()") == value

    card.get_by_role("button", name="Verify go.brand-ui.example").click()
    expect(card.get_by_test_id("verify-result")).to_contain_text(
        "Not verified yet", timeout=20_000
    )
    expect(card.get_by_test_id("domain-status")).to_have_text("Waiting for DNS")

    card.get_by_role("button", name="Edit go.brand-ui.example").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Home page URL").fill("https://brand.example/")
    dialog.get_by_role("button", name="Save").click()
    expect(card).to_contain_text("https://brand.example/")
    assert call(context, "GET", f"/orgs/{org}/domains")["items"][0]["root_url"] == (
        "https://brand.example/"
    )

    card.get_by_role("button", name="Remove go.brand-ui.example").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove domain").click()
    expect(page.get_by_text("No domains yet.")).to_be_visible()
    assert call(context, "GET", f"/orgs/{org}/domains")["items"] == []
