import pytest

from kurz.analytics.agents import classify, referrer_host

from .support import CHROME, IPHONE, SLACKBOT

IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.0 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 10; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "browser", "os", "device"),
    [
        (CHROME, "Chrome", "Windows", "desktop"),
        (IPHONE, "Mobile Safari", "iOS", "mobile"),
        (IPAD, "Mobile Safari", "iOS", "tablet"),
        (ANDROID_TABLET, "Chrome", "Android", "tablet"),
        # "CUBOT" ends in "bot": a phone brand, not a crawler.
        (ANDROID_PHONE, "Chrome", "Android", "mobile"),
        ("SomethingNew/1.0", "Other", "Other", "other"),
    ],
)
def test_browsers_are_humans_with_their_family_and_device_class(
    user_agent: str, browser: str, os: str, device: str
) -> None:
    agent = classify(user_agent)
    assert (agent.browser, agent.os, agent.device, agent.bot) == (browser, os, device, False)


@pytest.mark.parametrize(
    "user_agent",
    [
        SLACKBOT,
        "Twitterbot/1.0",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "TelegramBot (like TwitterBot)",
        "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    ],
)
def test_crawlers_preview_fetchers_and_monitors_are_bots(user_agent: str) -> None:
    agent = classify(user_agent)
    assert agent.bot
    assert agent.device == "bot"


@pytest.mark.parametrize(
    "user_agent",
    [
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.32.3",
        "python-httpx/0.28.1",
        "Go-http-client/1.1",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0 Safari/537.36",
        "",
    ],
)
def test_http_tools_and_unknown_agents_are_not_known_bots(user_agent: str) -> None:
    """Only known bots are left out: a person may click through any of these."""
    assert not classify(user_agent).bot


def test_parsing_is_cached() -> None:
    classify.cache_clear()
    classify(CHROME)
    classify(CHROME)
    assert classify.cache_info().hits == 1


@pytest.mark.parametrize(
    ("referrer", "host"),
    [
        ("https://news.ycombinator.com/item?id=1&token=secret", "news.ycombinator.com"),
        ("HTTP://Example.COM:8080/path", "example.com"),
        ("android-app://com.slack/", "com.slack"),
        ("not a url", None),
        ("http://[::1", None),
    ],
)
def test_only_the_referrer_host_is_kept(referrer: str, host: str | None) -> None:
    assert referrer_host(referrer) == host
