"""A real DNS server for the domain tests, and helpers to add and verify domains."""

import socket
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from kurz.config import Settings


class Zone(BaseResolver):
    """Answers TXT queries from ``records`` (name -> values); NXDOMAIN for other names."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        values = self.records.get(name)
        if values is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in values:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=0))
        return reply


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dns_zone() -> Iterator[Zone]:
    """A DNS server on a local UDP port; ``dns_zone.nameserver`` is its ``ip:port``."""
    zone = Zone()
    port = _free_udp_port()
    server = DNSServer(zone, port=port, address="127.0.0.1", logger=DNSLogger(logf=lambda _: None))
    server.start_thread()
    zone.nameserver = f"127.0.0.1:{port}"
    yield zone
    server.stop()


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
