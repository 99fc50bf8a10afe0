"""Link destinations that loop back through other names of the service, or are private."""

import socket

import pytest

from tests.support import assert_problem

from .test_links import links_path

# The test app listens (by its settings) on 127.0.0.1:5000 and is known as http://kurz.test.
LOOPS = [
    "http://127.0.0.1:5000/anything",
    "http://localhost:5000/anything",  # a name, resolved: not this service's name
    "http://[::ffff:127.0.0.1]:5000/x",
    "http://2130706433:5000/x",
    "http://127.0.0.2:6000/existing",  # another port, but the path is one of its links
    "http://localhost/existing/",
]


@pytest.mark.parametrize("url", LOOPS)
async def test_other_names_of_the_service_are_refused(make_org, make_link, url) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="existing")
    response = await owner.client.post(links_path(org_id), json={"url": url})
    body = await assert_problem(response, 400, "INVALID_URL")
    assert body["errors"][0]["field"] == "url"
    response = await owner.client.patch(links_path(org_id, "existing"), json={"url": url})
    await assert_problem(response, 400, "INVALID_URL")
    link = await (await owner.client.get(links_path(org_id, "existing"))).get_json()
    assert link["url"] == "https://example.com/"


async def test_a_host_name_resolving_to_loopback_is_refused(make_org) -> None:
    """The machine's own name, when it resolves to loopback (as in most containers)."""
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    if not any(address.startswith("127.") or address == "::1" for address in addresses):
        pytest.skip(f"{name} does not resolve to loopback here")
    org_id, owner = await make_org()
    response = await owner.client.post(links_path(org_id), json={"url": f"http://{name}:5000/"})
    await assert_problem(response, 400, "INVALID_URL")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6000/not-a-link",  # another service on this machine
        "http://localhost:3000/dev",
        "https://no-such-host.invalid/x",  # a failed lookup is no error
        "http://10.1.2.3/wiki",  # private networks are allowed by default
        "http://intranet/",
    ],
)
async def test_other_local_services_and_unknown_names_are_accepted(make_org, url) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(links_path(org_id), json={"url": url})
    assert response.status_code == 201, await response.get_data(as_text=True)


PRIVATE = [
    "http://10.1.2.3/wiki",
    "http://172.16.0.1/",
    "http://192.168.1.1/admin",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://100.64.0.1/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://printer.local/",
    "http://intranet/",
    "http://router.home.arpa/",
    "http://localhost:3000/dev",
]


@pytest.fixture
async def public_only(app_factory, settings):
    app = app_factory(settings, allow_private_targets=False)
    async with app.test_app():
        yield app


@pytest.mark.parametrize("url", PRIVATE)
async def test_private_destinations_are_refused_when_not_allowed(public_only, url) -> None:
    client = public_only.test_client()
    credentials = {"email": "p@example.com", "password": "correct horse battery staple"}
    assert (await client.post("/api/v1/users", json=credentials)).status_code == 201
    assert (await client.post("/api/v1/session", json=credentials)).status_code == 200
    org_id = (await (await client.post("/api/v1/orgs", json={"name": "P"})).get_json())["id"]
    response = await client.post(links_path(org_id), json={"url": url})
    await assert_problem(response, 400, "INVALID_URL")
    for public in ("https://8.8.8.8/", "https://no-such-host.invalid/"):
        response = await client.post(links_path(org_id), json={"url": public})
        assert response.status_code == 201, public
    slug = (await response.get_json())["slug"]
    response = await client.patch(links_path(org_id, slug), json={"url": url})
    await assert_problem(response, 400, "INVALID_URL")
