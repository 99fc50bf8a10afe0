"""Where a link may send visitors: the checks on its URL that need DNS or the settings.

``slugs.check_url`` refuses this service's own host by name. Other names can reach it too (a
wildcard DNS name, its IP address with its port, a name for 127.0.0.1), and a link through one
of them would loop, every hop counting as a click. So the destination's host is resolved (off
the event loop, for a bounded time; a failed lookup is no error): a link is refused when the
host resolves to a loopback address or one of the service's own addresses, and either its port
is the service's or its path names one of the service's links.

With ``KURZ_ALLOW_PRIVATE_TARGETS=false`` destinations on private networks are refused too: by
name (``*.internal``, ``*.local``, single-label names, ...) and by address (any that is not
globally routable, e.g. 10.0.0.0/8, 169.254.169.254, fc00::/7).

What remains possible: a name whose DNS answer changes after the check.
"""

import asyncio
import ipaddress
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote, urlsplit

from .errors import APIError, validation_error
from .services import current_services, get_settings
from .slugs import is_routable_slug, url_host

RESOLVE_SECONDS = 2.0
# Lookups of their own threads: slow name servers must not hold up password hashing.
RESOLVER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kurz-resolve")
# Names that only mean something inside a network (RFC 6762, RFC 8375, ICANN's .internal).
PRIVATE_SUFFIXES = (
    ".internal",
    ".local",
    ".localhost",
    ".localdomain",
    ".lan",
    ".home",
    ".home.arpa",
    ".corp",
    ".intranet",
    ".private",
)
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Answers (failed lookups too) are kept a minute per worker: a bulk import to one host, or a
# name server that drops a query now and then, costs one lookup, not one per link.
LOOKUP_SECONDS = 60.0
LOOKUPS_KEPT = 4096
LOOKUPS: dict[str, tuple[float, set[Address]]] = {}


def _invalid_url(message: str) -> APIError:
    return validation_error("url", message, "INVALID_URL")


async def check_destination(url: str) -> None:
    """400 INVALID_URL when ``url`` (already past ``check_url``) loops back to this service,
    or is on a private network while those are not allowed."""
    settings = get_settings()
    parts = urlsplit(url)
    host, port = url_host(url), _port(parts.port, parts.scheme)
    if not settings.allow_private_targets and _private_name(host):
        raise _invalid_url("Links to private network names are not allowed here.")
    own_url = urlsplit(settings.base_url)
    own_hosts = [url_host(settings.base_url), settings.host]
    listening = _address(settings.host)
    if listening is not None and listening.is_unspecified:
        own_hosts.append(socket.gethostname())  # listening on every address of this machine
    found = await asyncio.gather(_resolve(host), *(_resolve(name) for name in own_hosts))
    addresses, own = found[0], set().union(*found[1:])
    if not settings.allow_private_targets and any(not a.is_global for a in addresses):
        raise _invalid_url("Links to private network addresses are not allowed here.")
    here = any(a.is_loopback or a.is_unspecified or a in own for a in addresses)
    own_ports = {settings.port, _port(own_url.port, own_url.scheme)}
    if here and (port in own_ports or await _names_a_link(parts.path)):
        raise _invalid_url("A link cannot point at this service's own short links.")


def _port(port: int | None, scheme: str) -> int:
    return port or (443 if scheme == "https" else 80)


def _address(host: str) -> Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _private_name(host: str) -> bool:
    if _address(host) is not None:
        return False  # judged by address
    return "." not in host or host.endswith(PRIVATE_SUFFIXES)


async def _resolve(host: str) -> set[Address]:
    """The addresses ``host`` resolves to; none when the lookup fails or takes too long."""
    address = _address(host)
    if address is not None:
        return {address}
    now = time.monotonic()
    looked_up, found = LOOKUPS.get(host, (-LOOKUP_SECONDS, set()))
    if now - looked_up < LOOKUP_SECONDS:
        return found
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().run_in_executor(
                RESOLVER, lambda: socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            ),
            RESOLVE_SECONDS,
        )
        found = {
            address
            for info in infos
            if (address := _address(str(info[4][0]).partition("%")[0])) is not None
        }
    except (OSError, UnicodeError, TimeoutError):
        found = set()
    if len(LOOKUPS) >= LOOKUPS_KEPT:
        LOOKUPS.clear()
    LOOKUPS[host] = (now, found)
    return found


async def _names_a_link(path: str) -> bool:
    """Whether the URL path, as this service would route it, is one of its short links."""
    slug = unquote(path.lstrip("/").split("/", 1)[0])
    if not is_routable_slug(slug, current_services().reserved_slugs):
        return False
    return await current_services().link_cache.lookup(slug) is not None
