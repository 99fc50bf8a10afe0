import re
from collections import Counter

import pytest

from kurz.errors import APIError
from kurz.slugs import (
    ALPHABET,
    RESERVED,
    check_slug,
    check_url,
    is_routable_slug,
    random_slug,
    reserved_words,
)


def test_random_slugs_are_seven_base62_characters_spread_evenly() -> None:
    slugs = [random_slug() for _ in range(5000)]
    assert all(re.fullmatch(r"[A-Za-z0-9]{7}", slug) for slug in slugs)
    assert len(set(slugs)) == len(slugs)
    counts = Counter("".join(slugs))
    assert set(counts) == set(ALPHABET)
    expected = 7 * 5000 / 62
    assert all(0.7 * expected < count < 1.3 * expected for count in counts.values())


def test_reserved_words_cover_the_contract_and_the_app_routes(app) -> None:
    words = reserved_words(app)
    assert RESERVED <= words
    assert {"api", "healthz", "readyz", "docs", "assets", "openapi.json"} <= words
    assert not any("<" in word or word == "" for word in words)


def test_reserved_words_are_refused_in_any_letter_case(app) -> None:
    words = reserved_words(app)
    for slug in ("api", "API", "Docs", "healthZ"):
        with pytest.raises(APIError) as raised:
            check_slug(slug, words)
        assert raised.value.code == "INVALID_SLUG"
        assert not is_routable_slug(slug, words)
    assert check_slug("apis", words) == "apis"
    assert is_routable_slug("apis", words)


@pytest.mark.parametrize(
    "url, stored",
    [
        ("HTTP://Example.com/A", "http://Example.com/A"),
        ("https://example.com", "https://example.com"),
    ],
)
def test_check_url_normalises_only_the_scheme(url: str, stored: str) -> None:
    assert check_url(url, "https://kurz.example") == stored


@pytest.mark.parametrize(
    "base_url, url",
    [
        ("https://go.example.com", "https://go.example.com/abc"),
        ("https://go.example.com", "http://GO.example.com./abc"),
        ("https://go.example.com", "https://go.example.com:8443/abc"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/abc"),
        ("http://[::1]:5000", "http://[0:0::1]/abc"),
        ("http://127.0.0.1:5000", "http://localhost:5000/abc"),
        ("http://localhost:5000", "http://[::1]:5000/abc"),
        # Other spellings of a loopback address, as browsers read them
        ("http://127.0.0.1:5000", "http://127.1:5000/abc"),
        ("http://127.0.0.1:5000", "http://2130706433:5000/abc"),
        ("http://127.0.0.1:5000", "http://0x7f000001:5000/abc"),
        ("http://127.0.0.1:5000", "http://0x7f.0.0.1:5000/abc"),
        ("http://127.0.0.1:5000", "http://0177.0.0.1:5000/abc"),
        ("http://127.0.0.1:5000", "http://127.0.0.2:5000/abc"),
        ("http://127.0.0.1:5000", "http://[::ffff:127.0.0.1]:5000/abc"),
        ("http://127.0.0.1:5000", "http://0.0.0.0:5000/abc"),
        ("http://127.0.0.1:5000", "http://app.localhost:5000/abc"),
        ("http://10.0.0.5", "http://167772165/abc"),
    ],
)
def test_links_to_this_service_are_refused(base_url: str, url: str) -> None:
    with pytest.raises(APIError) as raised:
        check_url(url, base_url)
    assert raised.value.code == "INVALID_URL"


def test_other_hosts_on_similar_names_are_fine() -> None:
    assert check_url("https://example.com/x", "https://go.example.com")
    assert check_url("https://go.example.com.evil.example/", "https://go.example.com")


@pytest.mark.parametrize(
    "url",
    [
        "http://[v1.abc]/",  # brackets hold IPv6 only
        "http://foo.123/",  # a number last makes it an address, which this is not
        "http://256.1.1.1/",
        "http://1.2.3.4.5/",
        "http://09.1.1.1/",  # 0 starts an octal number
    ],
)
def test_hosts_browsers_would_refuse_are_refused(url: str) -> None:
    with pytest.raises(APIError) as raised:
        check_url(url, "https://go.example.com")
    assert raised.value.code == "INVALID_URL"


def test_numeric_addresses_of_other_hosts_are_fine() -> None:
    assert check_url("http://8.8.8.8/", "http://127.0.0.1:5000")
    assert check_url("http://134744072/", "http://127.0.0.1:5000")  # 8.8.8.8 too
    assert check_url("http://[2001:db8::1]/", "http://127.0.0.1:5000")
