"""The main screens with a small realistic org: all controls labelled, and screenshots of them
for the README.

They are written to ``docs/screenshots/`` when ``KURZ_SCREENSHOTS=1`` (so an ordinary test run
leaves the committed images alone), else to a temporary folder; either way every screen must draw.
"""

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from .test_links_ui import CHROME, FIREFOX_ANDROID, wait_for_clicks
from .ui import (
    PASSWORD,
    add_member,
    assert_labelled,
    call,
    create_link,
    create_org,
    open_app,
    sign_up,
    unique_email,
    wait_for_image,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
LINKS = [
    ("https://example.com/blog/2026/launching-kurz-for-teams", "Launch announcement", "launch"),
    ("https://example.com/pricing?utm_source=newsletter", "Pricing (newsletter)", None),
    ("https://docs.example.com/getting-started/install", "Install guide", "install"),
    ("https://example.com/webinar/registration", "Webinar sign-up", None),
    ("https://careers.example.com/jobs/frontend-engineer", "Frontend job ad", None),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    if os.environ.get("KURZ_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        return DOCS
    return tmp_path


def test_main_screens_are_labelled_and_photographed(new_context, base_url, folder) -> None:
    desk = new_context(viewport={"width": 1200, "height": 800})
    owner = sign_up(desk, name="Ada Lovelace", email=unique_email("ada"))
    org = create_org(owner, "Acme Marketing")
    suffix = org[:4]
    for url, title, slug in reversed(LINKS):  # the list shows the newest, i.e. first, on top
        fields = {"slug": f"{slug}-{suffix}"} if slug else {}
        launch = create_link(owner, org, url=url, title=title, **fields)["slug"]
    visits = [
        (CHROME, "https://news.example.org/item?id=1"),
        (CHROME, "https://www.linkedin.com/"),
        (FIREFOX_ANDROID, "https://news.example.org/item?id=1"),
        (SAFARI_IPHONE, None),
        (CHROME, None),
    ]
    for user_agent, referrer in visits:
        headers = {"User-Agent": user_agent, **({"Referer": referrer} if referrer else {})}
        httpx.get(f"{base_url}/{launch}", headers=headers)
    for teammate in ("grace", "alan"):
        person = sign_up(new_context(), name=teammate.title(), email=unique_email(teammate))
        add_member(owner, org, person.email)
    add_member(owner, org, unique_email("new"), "admin")
    call(desk, "POST", f"/orgs/{org}/tokens", {"name": "CI pipeline", "role": "member"})
    call(desk, "POST", f"/orgs/{org}/tokens", {"name": "CRM sync", "role": "admin"})
    wait_for_clicks(desk, f"/orgs/{org}/links/{launch}/stats", len(visits))

    page = desk.new_page()
    open_app(page, f"/orgs/{org}/links")
    expect(page.get_by_test_id("link-item")).to_have_count(len(LINKS))
    assert_labelled(page)
    page.screenshot(path=folder / "links.png")

    open_app(page, f"/orgs/{org}/links/{launch}")
    expect(page.get_by_test_id("clicks-chart")).to_be_visible()
    expect(page.get_by_test_id("stats-browsers")).to_be_visible()
    wait_for_image(page.get_by_test_id("qr-image"))
    assert_labelled(page)
    page.screenshot(path=folder / "link-detail.png", full_page=True)

    open_app(page, f"/orgs/{org}/members")
    expect(page.get_by_test_id("invitations-table").locator("tbody tr")).to_have_count(1)
    assert_labelled(page)
    page.screenshot(path=folder / "members.png", full_page=True)

    open_app(page, f"/orgs/{org}/tokens")
    page.get_by_label("Token name").fill("Zapier")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("token-value")).to_be_visible()
    expect(page.get_by_test_id("tokens-table").locator("tbody tr")).to_have_count(3)
    page.get_by_test_id("flash").evaluate("el => el.replaceChildren()")
    assert_labelled(page)
    page.screenshot(path=folder / "tokens.png", full_page=True)

    open_app(page, f"/orgs/{org}/activity")
    expect(page.get_by_test_id("audit-table")).to_be_visible()
    assert_labelled(page)
    page.screenshot(path=folder / "activity.png")

    phone = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    call(
        phone,
        "POST",
        "/session",
        {"email": owner.email, "password": PASSWORD},
    )
    phone_page = phone.new_page()
    open_app(phone_page, f"/orgs/{org}/links")
    expect(phone_page.get_by_test_id("link-item")).to_have_count(len(LINKS))
    assert_labelled(phone_page)
    phone_page.screenshot(path=folder / "links-phone.png")

    visitor = new_context(viewport={"width": 1200, "height": 800})
    login = visitor.new_page()
    open_app(login, "/login")
    assert_labelled(login)
    login.screenshot(path=folder / "login.png")

    for name in ("login", "links", "link-detail", "members", "tokens", "activity", "links-phone"):
        assert (folder / f"{name}.png").stat().st_size < 400_000, name
