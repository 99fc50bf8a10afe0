"""Countries in stats: from the bundled registry table, from a MaxMind-format database, and from
a trusted proxy's CF-IPCountry header; the address itself is never stored."""

import dataclasses

import httpx
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from kurz.analytics import geo
from kurz.config import Settings
from kurz.services import services
from tests.blueprints.test_stats import create_link, stats, visit

# Addresses held by known registries' members: Google (ARIN, US), RIPE NCC itself (NL), APNIC's
# research prefix with Cloudflare (AU), and a documentation address (no country).
KNOWN = {"8.8.8.8": "US", "193.0.6.139": "NL", "2001:67c:2e8::1": "NL", "1.1.1.1": "AU"}


def test_country_of_reads_the_bundled_table() -> None:
    for address, country in KNOWN.items():
        assert geo.country_of(address) == country
    for unknown in ("192.0.2.1", "10.1.2.3", "127.0.0.1", "::1", "not an address", ""):
        assert geo.country_of(unknown) is None


async def test_stats_count_countries(client, make_org, recorder) -> None:
    org_id, owner = await make_org()
    slug = await create_link(owner, org_id)
    for address in ("8.8.8.8", "8.8.4.4", "193.0.6.139", "2001:67c:2e8::1", "192.0.2.1"):
        await visit(client, slug, ip=address)
    await recorder.flush()
    expected = [
        {"value": "NL", "clicks": 2},
        {"value": "US", "clicks": 2},
        {"value": None, "clicks": 1},
    ]
    body = await stats(owner, org_id, slug)
    assert sorted(body["countries"], key=_order) == sorted(expected, key=_order)
    await recorder.roll_up()  # the same from the daily roll-ups
    rolled = "SELECT sum(clicks) FROM click_day_countries"
    assert await recorder._db.fetch_val(rolled) == 5
    body = await stats(owner, org_id, slug)
    assert sorted(body["countries"], key=_order) == sorted(expected, key=_order)
    columns = await recorder._db.fetch_all("SELECT * FROM clicks")
    assert not any("8.8.8.8" in str(value) for row in columns for value in row.values())


def _order(entry: dict) -> tuple:
    return (-entry["clicks"], entry["value"] or "")


async def test_a_maxmind_database_wins(tmp_path, settings, app_factory) -> None:
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-Country", ipv4_compatible=True)
    writer.insert_network(IPSet(["8.8.8.0/24"]), {"country": {"iso_code": "DE"}})
    writer.insert_network(IPSet(["2a00:1450::/32"]), {"country": {"iso_code": "fr"}})
    path = tmp_path / "countries.mmdb"
    writer.to_db_file(str(path))
    assert Settings.from_env({"KURZ_GEOIP_DB": str(path)}).geoip_db == path
    app = app_factory(settings, geoip_db=path)
    async with app.test_app():
        client = app.test_client()
        credentials = {"email": "geo@example.com", "password": "correct horse 42"}
        assert (await client.post("/api/v1/users", json=credentials)).status_code == 201
        assert (await client.post("/api/v1/session", json=credentials)).status_code == 200
        org_id = (await (await client.post("/api/v1/orgs", json={"name": "Geo"})).get_json())["id"]
        owner = dataclasses.make_dataclass("Owner", ["client"])(client)
        slug = await create_link(owner, org_id)
        for address in ("8.8.8.8", "2a00:1450:4001::1", "1.1.1.1"):  # the last not in the database
            await visit(client, slug, ip=address)
        await services(app).clicks.flush()
        body = await stats(owner, org_id, slug)
    geo.use_database(None)
    assert sorted(body["countries"], key=_order) == [
        {"value": "AU", "clicks": 1},
        {"value": "DE", "clicks": 1},
        {"value": "FR", "clicks": 1},
    ]


async def test_cf_ipcountry_only_from_a_trusted_proxy(client, make_org, recorder) -> None:
    """The test client's peer is its "client": 127.0.0.1 is trusted by default."""
    org_id, owner = await make_org()
    slug = await create_link(owner, org_id)
    await visit(client, slug, ip="127.0.0.1", headers={"CF-IPCountry": "ch"})
    await visit(client, slug, ip="8.8.8.8", headers={"CF-IPCountry": "CH"})  # ignored: US
    await visit(client, slug, ip="127.0.0.1", headers={"CF-IPCountry": "XX"})  # unknown
    await recorder.flush()
    body = await stats(owner, org_id, slug)
    assert sorted(body["countries"], key=_order) == [
        {"value": None, "clicks": 1},
        {"value": "CH", "clicks": 1},
        {"value": "US", "clicks": 1},
    ]


def _visit_live(server, slug: str, forwarded_for: str) -> None:
    response = httpx.get(
        f"{server.base_url}/{slug}",
        headers={"X-Forwarded-For": forwarded_for, "CF-IPCountry": "JP"},
        follow_redirects=False,
    )
    assert response.status_code == 302


def _live_countries(server, slug: str, session: httpx.Client, org_id: str) -> list:
    response = session.get(f"{server.base_url}/api/v1/orgs/{org_id}/links/{slug}/stats")
    assert response.status_code == 200, response.text
    return response.json()["countries"]


def _live_owner(server) -> tuple[httpx.Client, str, str]:
    session = httpx.Client(base_url=server.base_url)
    credentials = {"email": "proxy@example.com", "password": "correct horse 42"}
    assert session.post("/api/v1/users", json=credentials).status_code == 201
    assert session.post("/api/v1/session", json=credentials).status_code == 200
    org_id = session.post("/api/v1/orgs", json={"name": "Proxy"}).json()["id"]
    slug = session.post(
        f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/"}
    ).json()["slug"]
    return session, org_id, slug


def test_live_server_trusts_the_header_from_forwarded_allow_ips_only(
    database_url, live_server_factory, fresh_database, template_database
) -> None:
    """Behind uvicorn's proxy headers the client address is the forwarded one; the header is
    trusted by the connection's own peer (here 127.0.0.1), trusted or not."""
    trusting = live_server_factory(database_url, FORWARDED_ALLOW_IPS="127.0.0.1")
    session, org_id, slug = _live_owner(trusting)
    _visit_live(trusting, slug, "8.8.8.8")
    assert _live_countries(trusting, slug, session, org_id) == [{"value": "JP", "clicks": 1}]
    trusting.stop()

    distrusting = live_server_factory(
        fresh_database(template_database), FORWARDED_ALLOW_IPS="192.0.2.254"
    )
    session, org_id, slug = _live_owner(distrusting)
    _visit_live(distrusting, slug, "8.8.8.8")  # X-Forwarded-For ignored too: 127.0.0.1
    assert _live_countries(distrusting, slug, session, org_id) == [{"value": None, "clicks": 1}]
