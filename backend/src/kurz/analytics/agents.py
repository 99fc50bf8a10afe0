"""What a click's headers say about the visitor: browser, OS, device class, bot or not.

Bots are recorded but never counted as visits. Only *known* bots are: a user agent is a bot
when ua-parser calls its device a "Spider" (it knows the crawlers, Googlebot, bingbot and the
link-preview fetchers of Slack, Twitter/X, Facebook, LinkedIn, Discord, Telegram and WhatsApp),
or when it names one of those fetchers or an uptime monitor itself (so that a ua-parser update
cannot silently start counting them). Anything else is a visit, including HTTP libraries,
command-line tools and an empty user agent: a person may click through any of them (an app's
link opener, a script a colleague runs), and guessing otherwise would lose real visits. HEAD
requests are bots whatever they claim (the recorder decides that: it is not a property of the
user agent).
"""

import re
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

import ua_parser

# Longer user agents and referrers are cut before parsing, hashing and caching: browsers send
# ~150-300 characters of user agent, a host comes first in a URL, and the cut bounds the
# caches' memory whatever clients send.
MAX_USER_AGENT = 512
MAX_REFERRER = 512
MAX_FAMILY = 100
MAX_HOST = 253

KNOWN_BOTS = re.compile(
    r"slackbot|twitterbot|facebookexternalhit|facebot|linkedinbot|discordbot|telegrambot"
    r"|whatsapp|googlebot|bingbot|applebot|skypeuripreview|redditbot|pinterestbot|embedly"
    r"|iframely|mastodon|bluesky|duckduckbot|baiduspider|petalbot|semrush|ahrefs"
    r"|scrapy|uptimerobot|pingdom|statuscake",
    re.IGNORECASE,
)
MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"}
TABLETS = {"iPad", "Kindle", "Kindle Fire"}


class Agent(NamedTuple):
    browser: str
    os: str
    device: str  # desktop, mobile, tablet, bot or other
    bot: bool


@lru_cache(maxsize=4096)
def classify(user_agent: str) -> Agent:
    """Parse a user agent (already cut to ``MAX_USER_AGENT``); the few distinct ones are cached."""
    result = ua_parser.parse(user_agent)
    browser = _family(result.user_agent)
    os = _family(result.os)
    device = result.device
    if (device and device.family == "Spider") or KNOWN_BOTS.search(user_agent):
        return Agent(browser, os, "bot", True)
    return Agent(browser, os, _device_class(user_agent, os, device), False)


def _family(part: ua_parser.UserAgent | ua_parser.OS | None) -> str:
    # Stored as text, which cannot hold NUL: a batch failing on it would be retried forever.
    # Never empty: the rollups keep '' for "not recorded" (db/5.py).
    family = part.family[:MAX_FAMILY].replace("\0", "") if part else ""
    return family or "Other"


def _device_class(user_agent: str, os: str, device: ua_parser.Device | None) -> str:
    family = device.family if device else ""
    brand = (device.brand or "") if device else ""
    lowered = user_agent.lower()
    if family in TABLETS or "tablet" in brand.lower() or "tablet" in family.lower():
        return "tablet"
    # Android phones say "Mobile"; Android tablets do not.
    if os == "Android" and "mobile" not in lowered:
        return "tablet"
    if os in MOBILE_OS or "mobi" in lowered:
        return "mobile"
    if os != "Other":
        return "desktop"
    return "other"


@lru_cache(maxsize=4096)
def _host(referrer: str) -> str | None:
    try:
        host = urlsplit(referrer.strip()).hostname
    except ValueError:
        return None
    return host[:MAX_HOST].replace("\0", "") if host else None


def referrer_host(referrer: str) -> str | None:
    """Only the host of the referring page is kept: its path may carry private data.

    Cached like user agents; referrers are cut first, since their query strings vary most.
    """
    return _host(referrer[:MAX_REFERRER])
