"""Branded domains through real server processes: redirects by Host, and two instances that
learn of a domain's verification and removal from the database."""

import time

import httpx

PASSWORD = "correct horse battery staple"


class Admin:
    """A user with an org on a live server, acting through its API."""

    def __init__(self, base_url: str, email: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        assert self.post("/api/v1/users", email=email, password=PASSWORD).status_code == 201
        assert self.post("/api/v1/session", email=email, password=PASSWORD).status_code == 200
        self.org = self.post("/api/v1/orgs", name="Acme").json()["id"]

    def post(self, path: str, **body) -> httpx.Response:
        return self.http.post(path, json=body)

    def add_domain(self, hostname: str, zone=None, **fields) -> dict:
        response = self.post(f"/api/v1/orgs/{self.org}/domains", hostname=hostname, **fields)
        assert response.status_code == 201, response.text
        domain = response.json()
        if zone is not None:
            zone.records[domain["verification"]["name"]] = [domain["verification"]["value"]]
            response = self.post(f"/api/v1/orgs/{self.org}/domains/{hostname}/verify")
            assert response.status_code == 200, response.text
        return domain

    def link(self, url: str, slug: str, domain: str | None = None) -> dict:
        body = {"url": url, "slug": slug} | ({"domain": domain} if domain else {})
        response = self.post(f"/api/v1/orgs/{self.org}/links", **body)
        assert response.status_code == 201, response.text
        return response.json()


def visit(base_url: str, path: str, host: str | None = None) -> httpx.Response:
    headers = {"Host": host} if host else {}
    return httpx.get(base_url + path, headers=headers, follow_redirects=False, timeout=10)


def location(base_url: str, path: str, host: str | None = None) -> str | None:
    return visit(base_url, path, host).headers.get("Location")


def eventually(check, seconds: float = 10.0) -> bool:
    """Whether ``check()`` comes true before the deadline (it is asked every 20 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_redirects_by_host(database_url, live_server_factory, dns_zone) -> None:
    server = live_server_factory(database_url, KURZ_DNS_NAMESERVERS=dns_zone.nameserver)
    url = server.base_url
    acme = Admin(url, "acme@example.com")
    globex = Admin(url, "globex@example.com")
    acme.add_domain(
        "go.acme.com",
        dns_zone,
        root_url="https://acme.com/",
        not_found_url="https://acme.com/missing",
    )
    acme.add_domain("pending.acme.com")  # never verified
    globex.add_domain("go.globex.com", dns_zone)
    acme.link("https://default.example/", "launch")
    acme.link("https://acme.example/launch", "launch", "go.acme.com")
    globex.link("https://globex.example/launch", "launch", "go.globex.com")

    own_host = url.removeprefix("http://")
    assert location(url, "/launch") == "https://default.example/"
    assert location(url, "/launch", own_host) == "https://default.example/"
    assert location(url, "/launch", "go.acme.com") == "https://acme.example/launch"
    assert location(url, "/launch", "go.globex.com") == "https://globex.example/launch"
    # An unverified domain, an unknown host and an IP address are the default domain.
    for host in ("pending.acme.com", "unknown.example.org", "10.1.2.3"):
        assert location(url, "/launch", host) == "https://default.example/"

    assert location(url, "/", "go.acme.com") == "https://acme.com/"
    assert location(url, "/nope", "go.acme.com") == "https://acme.com/missing"
    assert visit(url, "/", "go.globex.com").status_code == 404
    assert visit(url, "/nope", "go.globex.com").status_code == 404
    # The UI and the API are not served on a branded domain; they are on the own host.
    assert visit(url, "/", own_host).status_code == 200
    assert visit(url, "/api/v1/session", "go.globex.com").status_code == 404
    response = acme.http.get("/api/v1/session", headers={"Host": "go.acme.com"})
    assert response.status_code == 404 and "set-cookie" not in response.headers
    assert acme.http.get("/api/v1/session").status_code == 200


def test_two_instances_follow_domain_changes(database_url, live_server_factory, dns_zone):
    env = {"KURZ_DNS_NAMESERVERS": dns_zone.nameserver}
    first = live_server_factory(database_url, **env)
    second = live_server_factory(database_url, **env)
    acme = Admin(first.base_url, "acme@example.com")
    acme.link("https://default.example/", "launch")
    assert location(second.base_url, "/launch", "go.acme.com") == "https://default.example/"

    acme.add_domain("go.acme.com", dns_zone)
    link = acme.link("https://acme.example/launch", "launch", "go.acme.com")
    assert location(first.base_url, "/launch", "go.acme.com") == "https://acme.example/launch"
    assert eventually(
        lambda: location(second.base_url, "/launch", "go.acme.com")
        == "https://acme.example/launch"
    )
    response = acme.http.patch(
        f"/api/v1/orgs/{acme.org}/domains/go.acme.com", json={"root_url": "https://acme.com/"}
    )
    assert response.status_code == 200
    assert eventually(lambda: location(second.base_url, "/", "go.acme.com") == "https://acme.com/")

    path = f"/api/v1/orgs/{acme.org}/links/{link['slug']}?domain=go.acme.com"
    assert acme.http.delete(path).status_code == 204
    assert acme.http.delete(f"/api/v1/orgs/{acme.org}/domains/go.acme.com").status_code == 204
    assert eventually(
        lambda: location(second.base_url, "/launch", "go.acme.com") == "https://default.example/"
    )
    assert visit(second.base_url, "/", "go.acme.com").status_code == 200  # the UI again


def test_a_protected_link_on_a_branded_domain(database_url, live_server_factory, dns_zone):
    """Its password form works there; the unlock cookie is the one cookie set and honoured."""
    server = live_server_factory(database_url, KURZ_DNS_NAMESERVERS=dns_zone.nameserver)
    acme = Admin(server.base_url, "acme@example.com")
    acme.add_domain("go.acme.com", dns_zone)
    response = acme.post(
        f"/api/v1/orgs/{acme.org}/links",
        url="https://acme.example/secret",
        slug="secret",
        domain="go.acme.com",
        password="open sesame",
    )
    assert response.status_code == 201, response.text
    branded = {"Host": "go.acme.com", "Accept": "text/html"}
    with httpx.Client(base_url=server.base_url, headers=branded, timeout=10) as browser:
        form = browser.get("/secret")
        assert form.status_code == 200 and "password" in form.text
        wrong = browser.post("/secret", data={"password": "guess"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        unlocked = browser.post("/secret", data={"password": "open sesame"})
        assert unlocked.status_code == 302
        assert unlocked.headers["Location"] == "https://acme.example/secret"
        assert unlocked.headers["set-cookie"].startswith("kurz_unlock=")
        # With the unlock cookie (and the own host's session cookie, ignored) it redirects.
        browser.cookies.set("kurz_session", acme.http.cookies["kurz_session"])
        again = browser.get("/secret")
        assert again.status_code == 302
        assert again.headers["Location"] == "https://acme.example/secret"
