"""The Domains page: add a domain, copy its TXT record, verify it against a real DNS server,
edit, remove; and a link on the domain made with the link form's domain picker."""

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.domains.dns_server import Zone, running_zone
from tests.support import run_admin, start_live_server, with_database

from .ui import call, create_link, create_org, open_app, sign_up


@pytest.fixture(scope="module")
def zone() -> Iterator[Zone]:
    with running_zone() as zone:
        yield zone


@pytest.fixture(scope="module")
def base_url(postgres_url, template_database, tmp_path_factory, zone) -> Iterator[str]:
    """A server of this module's own, verifying domains through ``zone``."""
    name = f"kurz_domains_ui_{uuid.uuid4().hex[:12]}"
    run_admin(postgres_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    server = start_live_server(
        with_database(postgres_url, name),
        tmp_path_factory.mktemp("domains-ui"),
        KURZ_DNS_NAMESERVERS=zone.nameserver,
    )
    yield server.base_url
    server.stop()
    assert "Traceback" not in server.log(), server.log()[-5000:]
    run_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_domains_page(page, context, watch, zone) -> None:
    watch.expect(400, "POST")  # a refused host name
    watch.expect(409, "POST")  # DNS has no record yet
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
    expect(card.get_by_test_id("verify-result")).to_contain_text("Not verified yet")
    expect(card.get_by_test_id("verify-result")).to_contain_text("NXDOMAIN")
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


def test_a_link_on_a_verified_domain(page, context, zone) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Picker Org")
    domain = call(context, "POST", f"/orgs/{org}/domains", {"hostname": "go.picker.example"})
    zone.records[domain["verification"]["name"]] = [domain["verification"]["value"]]
    open_app(page, f"/orgs/{org}/domains")
    card = page.get_by_test_id("domain-card")
    card.get_by_role("button", name="Verify go.picker.example").click()
    expect(card.get_by_test_id("domain-status")).to_have_text("Verified")
    expect(card).to_contain_text("expected TXT record")

    open_app(page, f"/orgs/{org}/links")
    form = page.get_by_test_id("link-create-form")
    picker = form.get_by_label("Domain")
    expect(picker.locator("option").first).to_contain_text("(default)")
    picker.select_option("go.picker.example")
    form.get_by_label("Destination URL").fill("https://example.com/launch")
    form.get_by_text("More options").click()
    form.get_by_label("Custom short name").fill("launch")
    form.get_by_role("button", name="Shorten").click()
    created = page.get_by_test_id("created-short-url")
    expect(created).to_have_value("https://go.picker.example/launch")
    item = page.get_by_test_id("link-item").filter(has_text="go.picker.example/launch")
    expect(item).to_have_count(1)

    item.locator("a.short-link").click()  # the row's link to the link page
    expect(page.get_by_test_id("detail-short-url")).to_have_value(
        "https://go.picker.example/launch"
    )
    assert call(context, "GET", f"/orgs/{org}/links/launch?domain=go.picker.example")["url"] == (
        "https://example.com/launch"
    )


def test_the_table_tells_one_slug_on_two_domains_apart(page, context, zone) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Twin Org")
    domain = call(context, "POST", f"/orgs/{org}/domains", {"hostname": "go.twin.example"})
    zone.records[domain["verification"]["name"]] = [domain["verification"]["value"]]
    assert call(context, "POST", f"/orgs/{org}/domains/go.twin.example/verify")["verified"]
    create_link(owner, org, slug="twin", url="https://example.com/default")
    create_link(
        owner, org, slug="twin", url="https://example.com/branded", domain="go.twin.example"
    )
    open_app(page, f"/orgs/{org}/links")
    base = page.url.split("/#")[0]
    visit = httpx.get(f"{base}/twin", headers={"Host": "go.twin.example"})
    assert visit.headers["location"] == "https://example.com/branded"
    expect(page.locator('[data-testid="link-item"][data-slug="twin"]')).to_have_count(2)
    branded = page.locator('[data-testid="link-item"][data-domain="go.twin.example"]')
    expect(branded.locator("a.short-link")).to_have_attribute(
        "href", f"#/orgs/{org}/links/twin?domain=go.twin.example"
    )

    branded.get_by_role("button", name="Actions for twin").click()
    page.get_by_role("menuitem", name="Disable").click()
    expect(branded.get_by_test_id("link-status")).to_have_text("Disabled")
    assert call(context, "GET", f"/orgs/{org}/links/twin?domain=go.twin.example")["disabled"]
    assert not call(context, "GET", f"/orgs/{org}/links/twin")["disabled"]

    branded.get_by_role("button", name="Actions for twin").click()
    page.get_by_role("menuitem", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit twin")
    dialog.get_by_label("Title").fill("Branded twin")
    dialog.get_by_role("button", name="Save changes").click()
    expect(branded).to_contain_text("Branded twin")
    assert call(context, "GET", f"/orgs/{org}/links/twin?domain=go.twin.example")["title"] == (
        "Branded twin"
    )
    assert call(context, "GET", f"/orgs/{org}/links/twin")["title"] is None

    # The domain filter is kept in the address and goes on to the CSV export.
    page.get_by_test_id("domain-filter").select_option("go.twin.example")
    expect(page.get_by_test_id("link-item")).to_have_count(1)
    assert "domain=go.twin.example" in page.url
    href = page.get_by_test_id("links-export").get_attribute("href")
    csv = page.request.get(page.url.split("/#")[0] + href).text()
    assert "https://go.twin.example/twin" in csv and "example.com/default" not in csv
    page.get_by_test_id("domain-filter").select_option(index=1)  # the default domain
    expect(page.get_by_test_id("link-item")).to_have_count(1)
    expect(page.get_by_test_id("link-item")).not_to_have_attribute(
        "data-domain", "go.twin.example"
    )
    page.get_by_test_id("domain-filter").select_option("")
    expect(page.get_by_test_id("link-item")).to_have_count(2)

    # The dashboard's top links lead to the link on its domain.
    open_app(page, f"/orgs/{org}/dashboard")
    expect(
        page.get_by_test_id("top-links").get_by_role("link", name="Branded twin")
    ).to_have_attribute("href", f"#/orgs/{org}/links/twin?domain=go.twin.example")
    open_app(page, f"/orgs/{org}/links")

    branded.get_by_role("button", name="Actions for twin").click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete link").click()
    expect(page.get_by_test_id("link-item")).to_have_count(1)
    assert call(context, "GET", f"/orgs/{org}/links/twin")["url"] == "https://example.com/default"
