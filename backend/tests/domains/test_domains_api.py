"""Branded domains through the API: adding, verifying by a real DNS server, editing, deleting,
links on them, redirects by Host (test client), the TLS check and the re-checks."""

from dataclasses import replace

import pytest

from kurz.config import ConfigError, Settings
from kurz.domains import normalise_hostname, recheck_due_domains
from kurz.errors import APIError
from tests.bulk.test_imports import run as run_import
from tests.support import assert_problem

DOMAIN_FIELDS = {
    "hostname",
    "verified",
    "verification",
    "root_url",
    "not_found_url",
    "created_at",
    "verified_at",
    "last_checked_at",
    "last_check_result",
    "check_failures",
}


def domains_path(org_id: str, hostname: str = "") -> str:
    return f"/api/v1/orgs/{org_id}/domains" + (f"/{hostname}" if hostname else "")


async def test_an_added_domain_waits_for_its_txt_record(make_org) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(
        domains_path(org_id), json={"hostname": "Go.Acme-Corp.COM.", "root_url": "https://a.co/"}
    )
    assert response.status_code == 201
    domain = await response.get_json()
    assert set(domain) == DOMAIN_FIELDS
    assert domain["hostname"] == "go.acme-corp.com"
    assert domain["verified"] is False and domain["verified_at"] is None
    assert domain["verification"]["type"] == "TXT"
    assert domain["verification"]["name"] == "_kurz-challenge.go.acme-corp.com"
    assert len(domain["verification"]["value"]) > 20
    assert domain["root_url"] == "https://a.co/" and domain["not_found_url"] is None
    listed = await (await owner.client.get(domains_path(org_id))).get_json()
    assert listed == {"items": [domain]}


async def test_hostnames_are_idna_encoded(make_org) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(domains_path(org_id), json={"hostname": "bücher.example"})
    assert (await response.get_json())["hostname"] == "xn--bcher-kva.example"
    # The Unicode form names the same domain in paths.
    response = await owner.client.patch(
        domains_path(org_id, "bücher.example"), json={"root_url": "https://b.example/"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "hostname",
    [
        "kurz.test",  # the service's own host (and a private name)
        "127.0.0.1",
        "::1",
        "[::1]",
        "localhost",
        "intranet",
        "printer.local",
        "db.internal",
        "app.localhost",
        "a.test",
        "-bad.example.com",
        "bad-.example.com",
        "under_score.example.com",
        "two..dots.com",
        "go.example.com/path",
        "go.example.com:443",
        "user@go.example.com",
        "x" * 64 + ".com",
        "10.0.0.1.5",
        "",
    ],
)
async def test_names_that_are_not_public_dns_names_are_refused(make_org, hostname) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(domains_path(org_id), json={"hostname": hostname})
    await assert_problem(response, 400, "INVALID_DOMAIN")
    assert (await (await owner.client.get(domains_path(org_id))).get_json())["items"] == []


def test_the_services_own_host_is_refused() -> None:
    with pytest.raises(APIError) as refused:
        normalise_hostname("Short.Example.com", "https://short.example.com")
    assert refused.value.code == "INVALID_DOMAIN"
    assert normalise_hostname("go.example.com", "https://short.example.com") == "go.example.com"


async def test_only_admins_manage_domains(make_org, add_member) -> None:
    org_id, owner = await make_org()
    member = await add_member(org_id, owner)
    response = await member.client.post(domains_path(org_id), json={"hostname": "go.acme.com"})
    assert response.status_code == 403
    assert (await member.client.get(domains_path(org_id))).status_code == 200


async def test_verification_asks_dns_and_says_what_it_answered(make_org, dns_zone) -> None:
    org_id, owner = await make_org()
    domain = await (
        await owner.client.post(domains_path(org_id), json={"hostname": "go.acme.com"})
    ).get_json()
    verify = domains_path(org_id, "go.acme.com") + "/verify"

    response = await owner.client.post(verify)  # no record at all
    problem = await assert_problem(response, 409, "DOMAIN_NOT_VERIFIED")
    assert "_kurz-challenge.go.acme.com" in problem["detail"]
    assert "NXDOMAIN" in problem["detail"]

    dns_zone.records["_kurz-challenge.go.acme.com"] = ["something-else"]
    problem = await assert_problem(await owner.client.post(verify), 409, "DOMAIN_NOT_VERIFIED")
    assert "'something-else'" in problem["detail"]
    listed = (await (await owner.client.get(domains_path(org_id))).get_json())["items"]
    assert listed[0]["verified"] is False
    assert "something-else" in listed[0]["last_check_result"]

    dns_zone.records["_kurz-challenge.go.acme.com"] = ["other", domain["verification"]["value"]]
    response = await owner.client.post(verify)
    assert response.status_code == 200
    verified = await response.get_json()
    assert verified["verified"] is True and verified["verified_at"] is not None
    assert verified["check_failures"] == 0


async def test_an_unverified_claim_never_blocks_another_org(make_org, add_domain, dns_zone):
    first_org, first = await make_org()
    second_org, second = await make_org()
    await add_domain(first_org, first, "go.shared.com")  # claimed, never verified
    domain = await add_domain(second_org, second, "go.shared.com", dns_zone)
    assert domain["verified"] is True
    # Now taken: the first org can neither verify it nor can a third org add it.
    response = await first.client.post(domains_path(first_org, "go.shared.com") + "/verify")
    await assert_problem(response, 409, "DOMAIN_TAKEN")
    third_org, third = await make_org()
    response = await third.client.post(domains_path(third_org), json={"hostname": "go.shared.com"})
    await assert_problem(response, 409, "DOMAIN_TAKEN")


async def test_adding_a_domain_twice_is_taken(make_org, add_domain) -> None:
    org_id, owner = await make_org()
    await add_domain(org_id, owner, "go.acme.com")
    response = await owner.client.post(domains_path(org_id), json={"hostname": "GO.acme.com"})
    await assert_problem(response, 409, "DOMAIN_TAKEN")


async def test_editing_and_deleting_a_domain(make_org, add_domain, make_link, dns_zone) -> None:
    org_id, owner = await make_org()
    await add_domain(org_id, owner, "go.acme.com", dns_zone)
    path = domains_path(org_id, "go.acme.com")
    response = await owner.client.patch(path, json={"not_found_url": "ftp://x"})
    assert response.status_code == 400
    assert (await response.get_json())["errors"][0]["field"] == "not_found_url"
    response = await owner.client.patch(path, json={"not_found_url": "https://acme.com/404"})
    assert (await response.get_json())["not_found_url"] == "https://acme.com/404"

    link = await make_link(org_id, owner, slug="launch", domain="go.acme.com")
    response = await owner.client.delete(path)
    await assert_problem(response, 409, "DOMAIN_IN_USE")
    response = await owner.client.delete(
        f"/api/v1/orgs/{org_id}/links/{link['slug']}?domain=go.acme.com"
    )
    assert response.status_code == 204
    assert (await owner.client.delete(path)).status_code == 204
    assert (await owner.client.delete(path)).status_code == 404


async def test_links_on_a_branded_domain(make_org, add_domain, make_link, dns_zone) -> None:
    org_id, owner = await make_org()
    await add_domain(org_id, owner, "go.acme.com", dns_zone)
    await add_domain(org_id, owner, "pending.acme.com")
    links = f"/api/v1/orgs/{org_id}/links"

    default = await make_link(org_id, owner, "https://default.example/", slug="launch")
    branded = await make_link(
        org_id, owner, "https://branded.example/", slug="launch", domain="GO.acme.com"
    )
    assert default["domain"] is None and default["short_url"] == "http://kurz.test/launch"
    assert branded["domain"] == "go.acme.com"
    assert branded["short_url"] == "https://go.acme.com/launch"
    response = await owner.client.post(
        links, json={"url": "https://x.example/", "slug": "launch", "domain": "go.acme.com"}
    )
    assert response.status_code == 409
    for domain in ("pending.acme.com", "other.example.com"):
        body = {"url": "https://x.example/", "domain": domain}
        response = await owner.client.post(links, json=body)
        await assert_problem(response, 400, "INVALID_DOMAIN")

    got = await (await owner.client.get(f"{links}/launch?domain=go.acme.com")).get_json()
    assert got["url"] == "https://branded.example/"
    assert (await (await owner.client.get(f"{links}/launch")).get_json())["domain"] is None
    response = await owner.client.patch(
        f"{links}/launch?domain=go.acme.com", json={"title": "Branded"}
    )
    assert (await response.get_json())["title"] == "Branded"
    assert (await (await owner.client.get(f"{links}/launch")).get_json())["title"] is None
    assert (await owner.client.get(f"{links}/launch/stats?domain=go.acme.com")).status_code == 200
    qr = await owner.client.get(f"{links}/launch/qr?domain=go.acme.com")
    assert qr.status_code == 200
    assert (await owner.client.get(f"{links}/launch?domain=pending.acme.com")).status_code == 404

    listed = await (await owner.client.get(f"{links}?domain=go.acme.com")).get_json()
    assert [link["short_url"] for link in listed["items"]] == ["https://go.acme.com/launch"]
    everything = await (await owner.client.get(links)).get_json()
    assert len(everything["items"]) == 2


async def test_redirects_by_host(client, make_org, add_domain, make_link, dns_zone) -> None:
    org_id, owner = await make_org()
    await add_domain(org_id, owner, "go.acme.com", dns_zone)
    await make_link(org_id, owner, "https://default.example/", slug="launch")
    await make_link(org_id, owner, "https://branded.example/", slug="launch", domain="go.acme.com")
    branded = {"Host": "go.acme.com"}

    response = await client.get("/launch", headers=branded)
    assert response.headers["Location"] == "https://branded.example/"
    response = await client.get("/launch", headers={"Host": "kurz.test"})
    assert response.headers["Location"] == "https://default.example/"
    assert (await client.get("/", headers=branded)).status_code == 404
    assert (await client.get("/nope", headers=branded)).status_code == 404

    await owner.client.patch(
        domains_path(org_id, "go.acme.com"),
        json={"root_url": "https://acme.com/", "not_found_url": "https://acme.com/404"},
    )
    response = await client.get("/", headers=branded)
    assert (response.status_code, response.headers["Location"]) == (302, "https://acme.com/")
    response = await client.get("/nope", headers={"Host": "GO.ACME.COM:443"})
    assert (response.status_code, response.headers["Location"]) == (302, "https://acme.com/404")

    # Nothing else is served there, and the session cookie is neither honoured nor set.
    for path in ("/api/v1/session", f"/api/v1/orgs/{org_id}/links", "/docs", "/healthz"):
        response = await owner.client.get(path, headers=branded)
        assert response.status_code == 404, path
        assert "set-cookie" not in response.headers
    response = await owner.client.post(
        "/api/v1/session",
        json={"email": owner.email, "password": owner.password},
        headers=branded,
    )
    assert response.status_code == 404 and "set-cookie" not in response.headers


async def test_tls_check(client, make_org, add_domain, dns_zone) -> None:
    org_id, owner = await make_org()
    await add_domain(org_id, owner, "go.acme.com", dns_zone)
    await add_domain(org_id, owner, "pending.acme.com")
    for name, status in [
        ("kurz.test", 200),
        ("go.acme.com", 200),
        ("GO.acme.com.", 200),
        ("pending.acme.com", 404),
        ("unknown.example.com", 404),
    ]:
        response = await client.get(f"/api/v1/tls-check?domain={name}")
        assert response.status_code == status, name
    assert (await client.get("/api/v1/tls-check")).status_code == 400


async def test_a_record_removed_later_unverifies_only_after_days_of_failures(
    app, db, make_org, add_domain, dns_zone, settings
) -> None:
    org_id, owner = await make_org()
    domain = await add_domain(org_id, owner, "go.acme.com", dns_zone)
    check = replace(settings, domain_check_seconds=1)
    # Not due yet: verified just now.
    assert await recheck_due_domains(db, replace(settings, domain_check_seconds=3600)) == 0

    del dns_zone.records[domain["verification"]["name"]]
    await db.execute("UPDATE domains SET last_checked_at = now() - interval '1 day'")
    assert await recheck_due_domains(db, check) == 1
    listed = (await (await owner.client.get(domains_path(org_id))).get_json())["items"][0]
    # One failed check: still verified and serving, the failure shown to admins.
    assert listed["verified"] is True and listed["check_failures"] == 1
    assert "NXDOMAIN" in listed["last_check_result"]
    assert (await app.test_client().get("/api/v1/tls-check?domain=go.acme.com")).status_code == 200

    # Failures in a row, but not yet for days: still verified.
    for _ in range(3):
        await db.execute("UPDATE domains SET last_checked_at = now() - interval '1 day'")
        await recheck_due_domains(db, check)
    listed = (await (await owner.client.get(domains_path(org_id))).get_json())["items"][0]
    assert listed["verified"] is True and listed["check_failures"] == 4

    # The record comes back: all well again.
    dns_zone.records[domain["verification"]["name"]] = [domain["verification"]["value"]]
    await db.execute("UPDATE domains SET last_checked_at = now() - interval '1 day'")
    await recheck_due_domains(db, check)
    listed = (await (await owner.client.get(domains_path(org_id))).get_json())["items"][0]
    assert listed["verified"] is True and listed["check_failures"] == 0

    # Gone for good: failing for days, checked again and again.
    del dns_zone.records[domain["verification"]["name"]]
    await db.execute("""UPDATE domains SET last_checked_at = now() - interval '1 day',
                              failing_since = now() - interval '4 days', check_failures = 2""")
    await recheck_due_domains(db, check)
    listed = (await (await owner.client.get(domains_path(org_id))).get_json())["items"][0]
    assert listed["verified"] is False
    assert (await app.test_client().get("/api/v1/tls-check?domain=go.acme.com")).status_code == 404


async def test_nothing_points_back_at_a_branded_domain(make_org, add_domain, dns_zone) -> None:
    """A short link to a short link, or an unknown slug sent to another one, could loop."""
    org_id, owner = await make_org()
    await add_domain(org_id, owner, "go.acme.com", dns_zone)
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/links", json={"url": "https://GO.acme.com/other"}
    )
    assert (await response.get_json())["code"] == "INVALID_URL"
    for fields, field in [
        ({"expired_url": "https://go.acme.com/x"}, "expired_url"),
        ({"rules": [{"os": "iOS", "url": "https://go.acme.com/x"}]}, "rules.0.url"),
    ]:
        response = await owner.client.post(
            f"/api/v1/orgs/{org_id}/links", json={"url": "https://www.acme.com/", **fields}
        )
        problem = await response.get_json()
        assert (problem["code"], problem["errors"][0]["field"]) == ("INVALID_URL", field)
    response = await owner.client.patch(
        domains_path(org_id, "go.acme.com"), json={"not_found_url": "https://go.acme.com/x"}
    )
    assert response.status_code == 400
    assert (await response.get_json())["errors"][0]["field"] == "not_found_url"
    # Another site of the same organisation is fine.
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/links", json={"url": "https://www.acme.com/"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("value", "servers"),
    [
        ("", ()),
        ("10.0.0.53", ("10.0.0.53",)),
        (" 127.0.0.1:5353, [::1]:53 ,::1", ("127.0.0.1:5353", "[::1]:53", "::1")),
    ],
)
def test_dns_nameservers_setting(value, servers) -> None:
    assert Settings.from_env({"KURZ_DNS_NAMESERVERS": value}).dns_nameservers == servers


@pytest.mark.parametrize("value", ["dns.example.com", "127.0.0.1:0", "127.0.0.1:x", "[::1]:99999"])
def test_dns_nameservers_must_be_addresses(value) -> None:
    with pytest.raises(ConfigError, match="KURZ_DNS_NAMESERVERS"):
        Settings.from_env({"KURZ_DNS_NAMESERVERS": value})


async def test_deleting_the_org_frees_its_domains(
    client, make_org, add_domain, make_link, dns_zone
) -> None:
    org_id, owner = await make_org()
    await add_domain(org_id, owner, "go.acme.com", dns_zone)
    await make_link(org_id, owner, "https://branded.example/", slug="launch", domain="go.acme.com")
    assert (await owner.client.delete(f"/api/v1/orgs/{org_id}")).status_code == 204
    assert (await client.get("/api/v1/tls-check?domain=go.acme.com")).status_code == 404
    other_org, other = await make_org()
    assert (await add_domain(other_org, other, "go.acme.com", dns_zone))["verified"] is True


async def test_lists_exports_and_org_stats_by_domain(
    client, make_org, add_domain, make_link, dns_zone, recorder
) -> None:
    org_id, owner = await make_org()
    await add_domain(org_id, owner, "go.acme.com", dns_zone)
    await make_link(org_id, owner, "https://default.example/", slug="launch")
    await make_link(org_id, owner, "https://branded.example/", slug="launch", domain="go.acme.com")
    for _ in range(2):
        response = await client.get("/launch", headers={"Host": "go.acme.com"})
        assert response.status_code == 302
    assert (await client.get("/launch")).status_code == 302
    await recorder.flush()

    async def listed(query: str) -> list:
        response = await owner.client.get(f"/api/v1/orgs/{org_id}/links{query}")
        assert response.status_code == 200, await response.get_data(as_text=True)
        return [(link["slug"], link["domain"]) for link in (await response.get_json())["items"]]

    assert await listed("?domain=go.acme.com") == [("launch", "go.acme.com")]
    assert await listed("?domain=kurz.test") == [("launch", None)]
    assert await listed("?domain=unknown.example") == []

    response = await owner.client.get(f"/api/v1/orgs/{org_id}/links/export.csv")
    rows = (await response.get_data(as_text=True)).splitlines()
    assert sorted(row.split(",")[1] for row in rows[1:]) == [
        "http://kurz.test/launch",
        "https://go.acme.com/launch",
    ]

    response = await owner.client.get(f"/api/v1/orgs/{org_id}/stats?days=1")
    stats = await response.get_json()
    assert stats["top_links"] == [
        {"slug": "launch", "domain": "go.acme.com", "title": None, "clicks": 2},
        {"slug": "launch", "domain": None, "title": None, "clicks": 1},
    ]
    # As the links show it: the link of a top entry is found by its slug and domain.
    for top in stats["top_links"]:
        query = "" if top["domain"] is None else f"?domain={top['domain']}"
        response = await owner.client.get(f"/api/v1/orgs/{org_id}/links/launch{query}")
        assert (await response.get_json())["domain"] == top["domain"]
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/stats?domain=go.acme.com")
    assert (await response.get_json())["total_clicks"] == 2


async def test_imports_put_rows_on_their_domain_and_export_round_trips(
    make_org, add_domain, make_link, dns_zone
) -> None:
    org_id, owner = await make_org()
    await add_domain(org_id, owner, "go.acme.com", dns_zone)
    await add_domain(org_id, owner, "pending.acme.com")  # not verified: serves nothing
    await make_link(org_id, owner, "https://default.example/", slug="launch")
    body = (
        "url,slug,domain\n"
        "https://branded.example/,launch,Go.Acme.com\n"  # the same slug on another domain
        "https://branded.example/2,,go.acme.com\n"
        "https://default.example/,launch,kurz.test\n"  # the default domain's link: skipped
        "https://x.example/,elsewhere,pending.acme.com\n"
        "https://x.example/,elsewhere,other.example\n"
    )
    result = await run_import(owner, org_id, body)
    assert (result["created"], result["skipped"], result["failed"]) == (2, 1, 2), result
    assert [(error["row"], error["code"]) for error in result["errors"]] == [
        (4, "INVALID_DOMAIN"),
        (5, "INVALID_DOMAIN"),
    ]
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/links/launch?domain=go.acme.com")
    link = await response.get_json()
    assert (link["url"], link["short_url"]) == (
        "https://branded.example/",
        "https://go.acme.com/launch",
    )

    response = await owner.client.get(f"/api/v1/orgs/{org_id}/links/export.csv")
    again = await run_import(owner, org_id, await response.get_data(as_text=True))
    assert (again["created"], again["skipped"], again["failed"]) == (0, 3, 0), again


async def test_bulk_actions_by_slug_stay_on_their_domain(
    make_org, add_domain, make_link, dns_zone
) -> None:
    org_id, owner = await make_org()
    await add_domain(org_id, owner, "go.acme.com", dns_zone)
    await make_link(org_id, owner, "https://default.example/", slug="launch")
    await make_link(org_id, owner, "https://branded.example/", slug="launch", domain="go.acme.com")
    links = f"/api/v1/orgs/{org_id}/links"

    body = {"slugs": ["launch"], "domain": "go.acme.com", "disabled": True}
    response = await owner.client.post(f"{links}/bulk-update", json=body)
    assert (await response.get_json())["count"] == 1
    branded = await owner.client.get(f"{links}/launch?domain=go.acme.com")
    assert (await branded.get_json())["disabled"] is True
    assert (await (await owner.client.get(f"{links}/launch")).get_json())["disabled"] is False

    response = await owner.client.post(f"{links}/bulk-delete", json={"slugs": ["launch"]})
    assert (await response.get_json())["count"] == 1  # the default domain's only
    assert (await owner.client.get(f"{links}/launch")).status_code == 404
    assert (await owner.client.get(f"{links}/launch?domain=go.acme.com")).status_code == 200
    response = await owner.client.post(
        f"{links}/bulk-delete", json={"slugs": ["launch"], "domain": "elsewhere.example"}
    )
    assert response.status_code == 404
