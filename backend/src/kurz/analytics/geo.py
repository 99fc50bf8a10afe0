"""The country of a client address, offline: never a network call, never the address stored.

By default from ``iptocc``'s table of the regional internet registries' delegations, bundled in
its wheel (country of the network's holder: right for nearly all consumer addresses, wrong for
some mobile and satellite networks and for networks used abroad). With ``KURZ_GEOIP_DB`` set, a
MaxMind-format database (GeoLite2 or DB-IP Lite, country or city) is asked first, and the table
answers only for addresses the database has no country for.
"""

import ipaddress
import logging
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import iptocc
import maxminddb

# uvicorn's own reading of FORWARDED_ALLOW_IPS, so that both trust the same proxies.
from uvicorn.middleware.proxy_headers import _TrustedHosts

log = logging.getLogger(__name__)

_database: maxminddb.Reader | None = None
# uvicorn's default for FORWARDED_ALLOW_IPS.
DEFAULT_TRUSTED = "127.0.0.1,::1"
# Where http_limits keeps the connection's peer in the ASGI scope.
PEER_KEY = "kurz.peer"


def use_database(path: Path | None) -> None:
    """Read countries from this MaxMind-format file from now on (None: the bundled table)."""
    global _database
    if _database is not None:
        _database.close()
    _database = None if path is None else maxminddb.open_database(str(path))
    country_of.cache_clear()
    if path is not None:
        log.info("countries from %s", path)


@lru_cache(maxsize=16_384)  # rules ask on every visit; a few addresses make most visits
def country_of(address: str) -> str | None:
    """ISO 3166-1 alpha-2 code (upper case) of an IPv4 or IPv6 address; None when unknown
    (private, reserved or unparsable addresses included)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if not parsed.is_global:
        return None
    if _database is not None:
        country = _from_record(_database.get(parsed))
        if country is not None:
            return country
    return valid_country(iptocc.country_code(str(parsed)))


def _from_record(record: object) -> str | None:
    """GeoLite2 and DB-IP put the code at country.iso_code; some other MaxMind-format
    databases put it at country_code."""
    if not isinstance(record, dict):
        return None
    country = record.get("country")
    if isinstance(country, dict):
        return valid_country(country.get("iso_code"))
    return valid_country(record.get("country_code"))


def valid_country(code: object) -> str | None:
    """A two-letter country code in upper case, or None (also for CDN placeholders such as
    Cloudflare's XX for unknown and T1 for Tor)."""
    if not isinstance(code, str) or len(code) != 2 or not code.isascii() or not code.isalpha():
        return None
    code = code.upper()
    return None if code in ("XX", "ZZ") else code


# Between a click's address and the country a trusted proxy gave for it (see proxy_country):
# the recorder keeps them as one value, so the redirect path adds no column for it.
COUNTRY_SEPARATOR = "\0"
COUNTRY_HEADER = b"cf-ipcountry"
_trusted: _TrustedHosts | None = None


def proxy_country(scope: Mapping[str, Any], client_ip: str, header: bytes | str) -> str:
    """The address to record for a request with a ``CF-IPCountry`` header: with the country
    attached when the request came from a proxy trusted by ``FORWARDED_ALLOW_IPS`` (as
    uvicorn's proxy headers are), else the address alone (anyone can send the header)."""
    global _trusted
    if _trusted is None:
        _trusted = _TrustedHosts(os.environ.get("FORWARDED_ALLOW_IPS", DEFAULT_TRUSTED))
    # The connection's own peer: uvicorn's proxy headers replace "client" with the address
    # the proxy forwarded (see http_limits).
    peer = scope.get(PEER_KEY) or scope.get("client")
    if peer is None or peer[0] not in _trusted:
        return client_ip
    country = valid_country(header.decode("latin-1") if isinstance(header, bytes) else header)
    return client_ip if country is None else f"{client_ip}{COUNTRY_SEPARATOR}{country}"
