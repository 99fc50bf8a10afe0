"""A real DNS server for the domain tests, and helpers to add and verify domains."""

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from kurz.config import Settings

from .dns_server import Zone, running_zone


@pytest.fixture
def dns_zone() -> Iterator[Zone]:
    """A DNS server on a local UDP port; ``dns_zone.nameserver`` is its ``ip:port``."""
    with running_zone() as zone:
        yield zone


@pytest.fixture
def settings(settings: Settings, dns_zone: Zone) -> Settings:
    return replace(settings, dns_nameservers=(dns_zone.nameserver,))


@pytest.fixture
def add_domain() -> Callable:
    """Has ``by`` add ``hostname`` to the org; with ``zone``, publishes its TXT record there
    and verifies it. Returns the domain as last answered."""

    async def add(org_id: str, by, hostname: str, zone: Zone | None = None, **fields) -> dict:
        response = await by.client.post(
            f"/api/v1/orgs/{org_id}/domains", json={"hostname": hostname, **fields}
        )
        assert response.status_code == 201, await response.get_data(as_text=True)
        domain = await response.get_json()
        if zone is None:
            return domain
        zone.records[domain["verification"]["name"]] = [domain["verification"]["value"]]
        response = await by.client.post(f"/api/v1/orgs/{org_id}/domains/{hostname}/verify")
        assert response.status_code == 200, await response.get_data(as_text=True)
        return await response.get_json()

    return add
