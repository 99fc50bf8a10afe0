"""Targeting rules through a real server, with the visitors' countries told by a trusted proxy
(the tests' requests come from 127.0.0.1, which uvicorn trusts by default)."""

from tests.controls.live import sign_up, visitor

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)
GERMANY, JAPAN, BRITAIN, USA = "85.214.0.1", "133.11.0.1", "81.2.69.160", "8.8.8.8"

RULES = [
    {"country": "DE", "device": "desktop", "url": "https://example.de/desktop"},
    {"country": "JP", "url": "https://example.jp/"},
    {"os": "iOS", "device": "tablet", "url": "https://example.com/ipad"},
    {"os": "iOS", "url": "https://apps.apple.com/app/kurz"},
    {"os": "android", "url": "https://play.google.com/store/apps/kurz"},
    {"device": "desktop", "country": "GB", "url": "https://example.co.uk/"},
]


VISITS = [
    (WINDOWS, GERMANY, "https://example.de/desktop"),
    (IPHONE, GERMANY, "https://apps.apple.com/app/kurz"),  # rule 1 wants a desktop
    (ANDROID, JAPAN, "https://example.jp/"),  # the first match wins
    (IPHONE, JAPAN, "https://example.jp/"),
    (IPAD, USA, "https://example.com/ipad"),
    (IPHONE, USA, "https://apps.apple.com/app/kurz"),
    (ANDROID, BRITAIN, "https://play.google.com/store/apps/kurz"),  # OS case-insensitive
    (WINDOWS, BRITAIN, "https://example.co.uk/"),
    (WINDOWS, USA, "https://example.com/"),  # no rule matches: the link's URL
    ("", "10.0.0.1", "https://example.com/"),  # no country, no known device
]


def test_the_first_matching_rule_picks_the_target(live_server) -> None:
    owner = sign_up(live_server.base_url)
    owner.create_link(slug="targeted", url="https://example.com/", rules=RULES)
    for user_agent, address, expected in VISITS:
        headers = {"User-Agent": user_agent, "X-Forwarded-For": address}
        with visitor(live_server.base_url, **headers) as client:
            response = client.get("/targeted")
            assert response.status_code == 302
            assert response.headers["location"] == expected, (user_agent, address)
    assert owner.link("targeted")["clicks"] == len(VISITS)


def test_rules_apply_after_a_password_and_follow_edits(live_server) -> None:
    owner = sign_up(live_server.base_url)
    owner.create_link(slug="both", url="https://example.com/", rules=RULES, password="sesame")
    headers = {"User-Agent": IPHONE, "X-Forwarded-For": USA, "Accept": "text/html"}
    with visitor(live_server.base_url, **headers) as client:
        response = client.post("/both", data={"password": "sesame"})
        assert response.headers["location"] == "https://apps.apple.com/app/kurz"
        assert client.get("/both").headers["location"] == "https://apps.apple.com/app/kurz"
        owner.edit_link("both", rules=[], password=None)
        assert client.get("/both").headers["location"] == "https://example.com/"
