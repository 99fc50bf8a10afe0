"""The country of a client address, from an offline table (iptocc's, bundled with the package).

``country_of(address)`` answers an ISO 3166-1 alpha-2 code in upper case (``"DE"``), or None for
addresses no country owns (private, loopback, reserved) and for anything that is no address.
No network and no files to keep up to date; lookups are cached, since a few addresses make most
of the traffic.
"""

from functools import lru_cache

import iptocc


@lru_cache(maxsize=16_384)
def country_of(address: str) -> str | None:
    """The country of an IPv4 or IPv6 address (as text), or None."""
    if not address:
        return None
    try:
        return iptocc.country_code(address)
    except ValueError:  # no address at all
        return None
