"""Slugs and link targets: random generation, validation, reserved words, URL checks."""

import ipaddress
import re
import secrets
import string
from urllib.parse import urlsplit

from quart import Quart

from .errors import APIError, validation_error

ALPHABET = string.ascii_letters + string.digits  # base62
RANDOM_LENGTH = 7  # 62**7 = 3.5e12: collisions stay rare long past a billion links
SLUG_PATTERN = re.compile(r"[A-Za-z0-9_-]{3,64}")
MAX_URL_LENGTH = 2048
# A "%" that starts no escape such as %2F, or a second "#": not a URI (RFC 3986).
NOT_URI = re.compile(r"%(?![0-9A-Fa-f]{2})|#.*#")
NOT_URI_MESSAGE = "A URL has no % outside an escape such as %2F, and at most one #."

# Named by the contract; every other top-level path the app serves is added from its URL map.
RESERVED = frozenset(
    {
        "api",
        "app",
        "static",
        "assets",
        "docs",
        "redocs",
        "openapi.json",
        "healthz",
        "readyz",
        "metrics",
        "login",
        "logout",
        "register",
        "favicon.ico",
        "robots.txt",
    }
)

# A DNS name of letters, digits, hyphens (and underscores, which some real hosts use).
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
HOSTNAME = re.compile(rf"{_LABEL}(\.{_LABEL})*\.?")

# A host whose last label is a number is an IPv4 address to browsers (WHATWG URL), in any of
# the forms inet_aton reads: 127.1, 2130706433, 0x7f000001, 0177.0.0.1.
NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")


def random_slug() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))


def reserved_words(app: Quart) -> frozenset[str]:
    """The contract's list plus the first segment of every route, in lower case.

    Computed from ``app.url_map`` once all blueprints are registered (``services(app)`` keeps
    it), so a new top-level route is reserved without anyone remembering to add it here.
    """
    segments = {rule.rule.lstrip("/").split("/", 1)[0] for rule in app.url_map.iter_rules()}
    dynamic = {segment for segment in segments if not segment or "<" in segment}
    return frozenset(word.lower() for word in RESERVED | (segments - dynamic))


def is_routable_slug(slug: str, reserved: frozenset[str]) -> bool:
    """Whether ``/<slug>`` may name a link (reserved words compare case-insensitively)."""
    return SLUG_PATTERN.fullmatch(slug) is not None and slug.lower() not in reserved


def check_slug(slug: str, reserved: frozenset[str]) -> str:
    if SLUG_PATTERN.fullmatch(slug) is None:
        raise _invalid_slug("A slug is 3 to 64 characters of A-Z, a-z, 0-9, - and _.")
    if slug.lower() in reserved:
        raise _invalid_slug(f"{slug!r} is reserved.")
    return slug


def _invalid_slug(message: str) -> APIError:
    return validation_error("slug", message, "INVALID_SLUG")


def _invalid_url(message: str) -> APIError:
    return validation_error("url", message, "INVALID_URL")


def _host(netloc_host: str, bracketed: bool) -> str | None:
    """The host in lower case, an IP address in its usual form, or None when it is not a valid
    IP address or (IDNA) name. ``bracketed``: written as ``[...]``, which only IPv6 may be."""
    if bracketed:
        try:
            address = ipaddress.IPv6Address(netloc_host)
        except ValueError:
            return None
        return (address.ipv4_mapped or address).compressed
    try:
        ascii_host = netloc_host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    if NUMERIC_LABEL.fullmatch(ascii_host.rstrip(".").rpartition(".")[2]):
        return _ipv4(ascii_host.rstrip("."))
    return ascii_host if HOSTNAME.fullmatch(ascii_host) and len(ascii_host) <= 253 else None


def _ipv4(host: str) -> str | None:
    """The dotted form of an IPv4 address written as browsers read it, or None (no address)."""
    parts = host.split(".")
    if len(parts) > 4 or not all(NUMERIC_LABEL.fullmatch(part) for part in parts):
        return None
    try:  # 0x: hexadecimal; a leading 0: octal (where 8 and 9 are errors); else decimal
        *leading, last = [
            (
                int(part[2:] or "0", 16)
                if part.startswith("0x")
                else int(part, 8 if part[0] == "0" else 10)
            )
            for part in parts
        ]
    except ValueError:
        return None
    if any(number > 255 for number in leading) or last >= 256 ** (4 - len(leading)):
        return None
    return str(ipaddress.IPv4Address(sum(n << 8 * (3 - i) for i, n in enumerate(leading)) + last))


def url_host(url: str) -> str:
    """The host of a URL that ``check_url`` accepted, as browsers read it (IDNA, IPv4 forms)."""
    parts = urlsplit(url)
    return (_host(parts.hostname or "", "[" in parts.netloc) or "").rstrip(".")


def _is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: a service on loopback is reached under any of them."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")
    return address.is_loopback or address.is_unspecified


def check_url(url: str, base_url: str) -> str:
    """An absolute http(s) URL to another host, at most 2048 characters, else 400 INVALID_URL.

    No whitespace or control characters (they could split the Location header), no
    ``user:password@`` (a phishing trick: ``https://bank.example@evil.example``), and not this
    service's own host: a short link to a short link could loop, and needs no shortening.
    """
    if len(url) > MAX_URL_LENGTH:
        raise _invalid_url(f"A URL is at most {MAX_URL_LENGTH} characters.")
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise _invalid_url("A URL contains no spaces or control characters.")
    if not url.isascii() and any("\ud800" <= char <= "\udfff" for char in url):
        raise _invalid_url("The URL is not valid Unicode (a lone surrogate).")
    if NOT_URI.search(url):
        raise _invalid_url(NOT_URI_MESSAGE)
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced [ in the host
        raise _invalid_url("The URL is malformed.") from None
    if parts.scheme.lower() not in {"http", "https"} or not url.lower().startswith(
        ("http://", "https://")
    ):
        raise _invalid_url("Only absolute http:// and https:// URLs can be shortened.")
    if "@" in parts.netloc:
        raise _invalid_url("A URL with a user name or password cannot be shortened.")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise _invalid_url("The URL's port is not valid.") from None
    host = _host(parts.hostname or "", "[" in parts.netloc)
    if host is None:
        raise _invalid_url("The URL needs a valid host name.")
    own_parts = urlsplit(base_url)
    own = own_parts.hostname or ""
    host, own = host.rstrip("."), (_host(own, "[" in own_parts.netloc) or own).rstrip(".")
    if host == own or (_is_loopback(host) and _is_loopback(own)):
        raise _invalid_url("A link cannot point at this service's own short links.")
    return parts.scheme.lower() + url[len(parts.scheme) :]  # "HTTPS://x" is "https://x"


TAG_NAME_LENGTH = 40
# Control characters (C0 and C1), and "|": the separator of tag names in CSV files.
_BAD_TAG_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f|]")


def check_tag_names(names: list[str], field: str, limit: int | None) -> list[str]:
    """Tag names trimmed, each once (in any letter case, the first spelling wins), at most
    ``limit`` of them; else 400 naming ``field``."""
    unique: dict[str, str] = {}
    for raw in names:
        name = raw.strip()
        if not 1 <= len(name) <= TAG_NAME_LENGTH:
            raise validation_error(field, "A tag name has 1 to 40 characters.")
        if _BAD_TAG_CHARACTERS.search(name):
            raise validation_error(field, "A tag name cannot contain control characters or '|'.")
        unique.setdefault(name.lower(), name)
    if limit is not None and len(unique) > limit:
        raise validation_error(field, f"A link has at most {limit} tags.")
    return list(unique.values())
