"""What the UI shows for safety: look-alike destination hosts, and whose API tokens are."""

from playwright.sync_api import expect

from .ui import create_link, create_org, open_app, sign_up

LOOK_ALIKE = "https://\u0430pple.com/login"  # a Cyrillic "а" before "pple"


def test_look_alike_hosts_are_shown_by_their_real_name_with_a_badge(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    fake = create_link(owner, org, url=LOOK_ALIKE, slug=f"fake-{org[:8]}")
    real = create_link(owner, org, url="https://münchen.de/", slug=f"real-{org[:8]}")
    open_app(page, f"/orgs/{org}/links")
    fake_item = page.locator(f'[data-testid="link-item"][data-slug="{fake["slug"]}"]')
    expect(fake_item.locator(".col-dest")).to_contain_text("xn--pple-43d.com")
    expect(fake_item.locator(".col-dest")).to_have_attribute(
        "title", "https://xn--pple-43d.com/login"
    )
    expect(fake_item.get_by_test_id("look-alike")).to_have_text("Look-alike host")
    real_item = page.locator(f'[data-testid="link-item"][data-slug="{real["slug"]}"]')
    expect(real_item.locator(".col-dest")).to_have_text("münchen.de")
    expect(real_item.locator(".col-dest")).to_have_attribute("title", "https://münchen.de/")
    expect(real_item.get_by_test_id("look-alike")).to_have_count(0)

    open_app(page, f"/orgs/{org}/links/{fake['slug']}")
    expect(page.get_by_test_id("detail-url")).to_have_text("https://xn--pple-43d.com/login")
    expect(page.get_by_test_id("look-alike")).to_be_visible()


def test_the_token_page_says_a_token_acts_with_its_creators_role(page, context) -> None:
    owner = sign_up(context)
    org = create_org(owner)
    open_app(page, f"/orgs/{org}/tokens")
    hint = page.get_by_test_id("token-owner-hint")
    expect(hint).to_contain_text("never does more than your own role")
    expect(hint).to_contain_text("stops working if you leave")
