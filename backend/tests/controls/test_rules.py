"""The rule matcher and the country lookup on their own."""

from kurz.analytics.geo import country_of
from kurz.redirects.rules import cached_rules, destination

ANDROID_TABLET = "Mozilla/5.0 (Linux; Android 14; SM-X910) AppleWebKit/537.36 Chrome/120.0"


def test_country_of_answers_iso_codes_or_none() -> None:
    assert country_of("85.214.0.1") == "DE"
    assert country_of("2a01:238::1") == "DE"
    assert country_of("133.11.0.1") == "JP"
    for nobody in ("127.0.0.1", "10.1.2.3", "::1", "", "not an address", "999.1.1.1"):
        assert country_of(nobody) is None


def test_rules_match_only_what_they_ask_and_parse_nothing_else(monkeypatch) -> None:
    rules = cached_rules(
        [
            {"device": "tablet", "url": "https://t.example/"},
            {"country": "DE", "os": "Android", "url": "https://de.example/"},
        ]
    )
    assert destination(rules, "https://x.example/", ANDROID_TABLET, "85.214.0.1") == (
        "https://t.example/"
    )
    # A rule of countries only never parses the user agent.
    looked_up = []
    monkeypatch.setattr(
        "kurz.redirects.rules.classify", lambda agent: looked_up.append(agent) or None
    )
    countries = cached_rules([{"country": "JP", "url": "https://jp.example/"}])
    assert destination(countries, "https://x.example/", "anything", "133.11.0.1") == (
        "https://jp.example/"
    )
    assert destination(countries, "https://x.example/", "anything", "8.8.8.8") == (
        "https://x.example/"
    )
    assert looked_up == []
