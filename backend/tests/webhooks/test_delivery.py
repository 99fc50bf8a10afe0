"""Delivering events to a real receiver that verifies them with ``standardwebhooks``: every
event type, retries, timeouts, disabling, rotation, manual retries, DNS checks, retention."""

from collections import Counter

import pytest

import kurz.webhooks
from kurz.services import services
from tests.analytics.support import CHROME, SLACKBOT
from tests.support import BASE_URL

ALL_EVENTS = [
    "link.created",
    "link.updated",
    "link.deleted",
    "link.clicked",
    "member.added",
    "member.removed",
]


def hooks(org_id: str, rest: str = "") -> str:
    return f"/api/v1/orgs/{org_id}/webhooks{rest}"


async def deliveries(owner, org_id: str, webhook: dict) -> list[dict]:
    response = await owner.client.get(hooks(org_id, f"/{webhook['id']}/deliveries"))
    assert response.status_code == 200
    return (await response.get_json())["items"]


async def test_every_event_type_arrives_signed_as_the_api_shows_it(
    client, make_org, make_webhook, signup, receiver, recorder, deliver
) -> None:
    org_id, owner = await make_org()
    await make_webhook(org_id, owner, ALL_EVENTS)
    links = f"/api/v1/orgs/{org_id}/links"
    created = await (
        await owner.client.post(links, json={"url": "https://example.com/a", "slug": "hooked"})
    ).get_json()
    updated = await (
        await owner.client.patch(f"{links}/hooked", json={"title": "Hooked"})
    ).get_json()
    response = await client.get(
        "/hooked", headers={"User-Agent": CHROME, "Referer": "https://news.example.org/x"}
    )
    assert response.status_code == 302
    await client.get("/hooked", headers={"User-Agent": SLACKBOT})  # a bot: no event
    await recorder.flush()
    assert (await owner.client.delete(f"{links}/hooked")).status_code == 204
    friend = await signup()
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": friend.email, "role": "member"}
    )
    member = await response.get_json()
    assert (
        await owner.client.delete(f"/api/v1/orgs/{org_id}/members/{friend.id}")
    ).status_code == 204

    await deliver()
    events = {r.event["type"]: r.event for r in receiver.delivered()}
    assert Counter(r.event["type"] for r in receiver.delivered()) == Counter(ALL_EVENTS)
    assert all(set(event) == {"type", "timestamp", "data"} for event in events.values())
    assert events["link.created"]["data"] == created
    assert events["link.updated"]["data"] == updated
    assert events["link.deleted"]["data"]["slug"] == "hooked"
    assert events["member.added"]["data"] == member
    assert events["member.removed"]["data"]["user_id"] == friend.id
    clicked = events["link.clicked"]["data"]
    assert clicked["link"] == {"slug": "hooked", "domain": None}
    assert (clicked["browser"], clicked["os"], clicked["device"]) == (
        "Chrome",
        "Windows",
        "desktop",
    )
    assert clicked["referrer"] == "news.example.org"
    assert clicked["at"].endswith("Z") and "country" in clicked
    assert len({r.id for r in receiver.delivered()}) == len(ALL_EVENTS)


async def test_a_click_event_names_the_links_domain_and_the_visitors_country(
    client, app, db, make_org, make_link, make_webhook, receiver, recorder, deliver
) -> None:
    org_id, owner = await make_org()
    await db.execute(
        """INSERT INTO domains (org_id, hostname, verification_value, verified_at)
           VALUES (:org_id, 'go.acme.example', 'checked', now())""",
        {"org_id": org_id},
    )
    await services(app).link_cache.load_domains()
    await make_link(org_id, owner, slug="branded", domain="go.acme.example")
    await make_webhook(org_id, owner, ["link.clicked"])
    # From 127.0.0.1, a trusted proxy by default: its country header counts.
    headers = {"Host": "go.acme.example", "User-Agent": CHROME, "CF-IPCountry": "ch"}
    response = await client.get(
        "/branded", headers=headers, scope_base={"client": ("127.0.0.1", 40000)}
    )
    assert response.status_code == 302
    await recorder.flush()
    await deliver()
    [clicked] = [r.event["data"] for r in receiver.delivered()]
    assert clicked["link"] == {"slug": "branded", "domain": "go.acme.example"}
    assert clicked["country"] == "CH"


async def test_a_bulk_update_sends_link_updated_for_each_changed_link(
    make_org, make_link, make_webhook, receiver, deliver
) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="tag-me")
    await make_link(org_id, owner, slug="tagged", tags=["Promo"])
    await make_webhook(org_id, owner, ["link.updated"])
    links = f"/api/v1/orgs/{org_id}/links"
    response = await owner.client.post(
        f"{links}/bulk-update", json={"slugs": ["tag-me", "tagged"], "add_tags": ["promo"]}
    )
    assert (await response.get_json())["slugs"] == ["tag-me"]
    await deliver()
    [event] = [r.event for r in receiver.delivered()]
    assert event["type"] == "link.updated"
    assert event["data"] == await (await owner.client.get(f"{links}/tag-me")).get_json()
    assert event["data"]["tags"] == ["Promo"]


async def test_a_bulk_delete_sends_link_deleted_for_each_link(
    make_org, make_link, make_webhook, receiver, deliver
) -> None:
    org_id, owner = await make_org()
    for slug in ("gone-1", "gone-2", "kept"):
        await make_link(org_id, owner, slug=slug)
    await make_webhook(org_id, owner, ["link.deleted"])
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/links/bulk-delete", json={"slugs": ["gone-1", "gone-2"]}
    )
    assert (await response.get_json())["count"] == 2
    await deliver()
    events = [r.event for r in receiver.delivered()]
    assert {event["type"] for event in events} == {"link.deleted"}
    assert sorted(event["data"]["slug"] for event in events) == ["gone-1", "gone-2"]


async def test_renaming_or_deleting_a_tag_sends_link_updated_for_each_link_with_it(
    make_org, make_link, make_webhook, receiver, deliver
) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="promo-1", tags=["Promo", "Q3"])
    await make_link(org_id, owner, slug="promo-2", tags=["Promo"])
    await make_link(org_id, owner, slug="plain", tags=["Q3"])
    await make_webhook(org_id, owner, ["link.updated"])
    tags = f"/api/v1/orgs/{org_id}/tags"

    response = await owner.client.patch(f"{tags}/promo", json={"color": "#112233"})
    assert response.status_code == 200
    await deliver()
    assert receiver.delivered() == []  # a colour is not part of a link

    response = await owner.client.patch(f"{tags}/promo", json={"name": "Launch"})
    assert response.status_code == 200
    await deliver()
    renamed = {r.event["data"]["slug"]: r.event["data"]["tags"] for r in receiver.delivered()}
    assert renamed == {"promo-1": ["Launch", "Q3"], "promo-2": ["Launch"]}

    assert (await owner.client.delete(f"{tags}/q3")).status_code == 204
    await deliver()
    events = [r.event for r in receiver.delivered()][2:]
    assert {event["type"] for event in events} == {"link.updated"}
    assert {event["data"]["slug"]: event["data"]["tags"] for event in events} == {
        "promo-1": ["Launch"],
        "plain": [],
    }


async def test_a_csv_import_sends_link_created_for_each_created_link(
    make_org, make_link, make_webhook, receiver, deliver
) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="existing", url="https://example.com/existing")
    await make_webhook(org_id, owner, ["link.created"])
    rows = [
        "url,slug,tags,disabled",
        "https://example.com/existing,existing,,",  # already there: skipped
        "https://example.com/one,imported-one,Imported,",
        "https://example.com/two,imported-two,,true",
        "not a url,imported-bad,,",  # failed
    ]
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/imports",
        data="\n".join(rows).encode(),
        headers={"Content-Type": "text/csv", "Origin": BASE_URL},
    )
    assert response.status_code == 202
    await deliver()  # runs the import job, then the deliveries it queued
    links = f"/api/v1/orgs/{org_id}/links"
    events = {r.event["data"]["slug"]: r.event for r in receiver.delivered()}
    assert set(events) == {"imported-one", "imported-two"}
    for slug, event in events.items():
        assert event["type"] == "link.created"
        assert event["data"] == await (await owner.client.get(f"{links}/{slug}")).get_json()
    assert events["imported-one"]["data"]["tags"] == ["Imported"]
    assert events["imported-two"]["data"]["disabled"] is True


async def test_an_invitation_accepted_by_registering_adds_a_member(
    make_org, make_webhook, signup, receiver, deliver
) -> None:
    org_id, owner = await make_org()
    await make_webhook(org_id, owner, ["member.added"])
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"email": "new@example.com", "role": "admin"}
    )
    assert response.status_code == 202
    newcomer = await signup("new@example.com")
    await deliver()
    [added] = receiver.delivered()
    assert added.event["type"] == "member.added"
    assert added.event["data"]["user_id"] == newcomer.id
    assert added.event["data"]["role"] == "admin"


async def test_only_subscribed_events_are_stored_and_sent(
    client, make_org, make_webhook, receiver, recorder, deliver, db
) -> None:
    org_id, owner = await make_org()
    other_org, other = await make_org()
    await make_webhook(org_id, owner, ["link.deleted"])
    slug = (
        await (
            await other.client.post(
                f"/api/v1/orgs/{other_org}/links", json={"url": "https://example.com/"}
            )
        ).get_json()
    )["slug"]
    await client.get(f"/{slug}", headers={"User-Agent": CHROME})
    await recorder.flush()
    await owner.client.post(f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/"})
    await deliver()
    assert receiver.received == []
    # Clicks and changes nobody subscribed to cost no rows at all.
    assert await db.fetch_val("SELECT count(*) FROM webhook_events") == 0


async def test_a_ping_and_a_disabled_endpoint(make_org, make_webhook, receiver, deliver) -> None:
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["link.created"])
    await owner.client.patch(hooks(org_id, f"/{webhook['id']}"), json={"enabled": False})
    await owner.client.post(f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/"})
    response = await owner.client.post(hooks(org_id, f"/{webhook['id']}/test"))
    assert response.status_code == 202
    await deliver()
    assert [r.event["type"] for r in receiver.delivered()] == ["ping"]
    assert receiver.delivered()[0].event["data"]["webhook_id"] == webhook["id"]
    [ping] = await deliveries(owner, org_id, webhook)
    assert (ping["type"], ping["status"], ping["response_status"]) == ("ping", "delivered", 200)


async def test_an_endpoint_for_pings_only(make_org, make_webhook, receiver, deliver) -> None:
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["ping"])
    assert webhook["events"] == ["ping"]
    await owner.client.post(f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/"})
    response = await owner.client.post(hooks(org_id, f"/{webhook['id']}/test"))
    assert response.status_code == 202
    await deliver()
    assert [r.event["type"] for r in receiver.delivered()] == ["ping"]


@pytest.mark.parametrize("failure", ["500", "timeout"])
async def test_a_receiver_failing_twice_gets_each_event_once(
    make_org, make_webhook, receiver, deliver, clock, monkeypatch, failure
) -> None:
    monkeypatch.setattr(kurz.webhooks, "TOTAL_TIMEOUT", 2.0)
    if failure == "500":
        receiver.answer = lambda number, received: 500 if number <= 2 else 200
    else:
        receiver.delay = lambda number, received: 4.0 if number <= 2 else 0.0
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["link.created"])
    for number in range(3):
        await owner.client.post(
            f"/api/v1/orgs/{org_id}/links", json={"url": f"https://example.com/{number}"}
        )
    await deliver()
    assert receiver.delivered() == []
    [pending] = {(d["status"], d["attempts"]) for d in await deliveries(owner, org_id, webhook)}
    assert pending == ("pending", 1)
    first = await deliveries(owner, org_id, webhook)
    # The first retry comes at most 10 seconds after the first failure.
    clock.travel(seconds=5)
    await deliver()
    assert receiver.delivered() == []
    clock.travel(minutes=5)
    await deliver()
    done = receiver.delivered()
    assert len(done) == 3 and len({r.id for r in done}) == 3
    ids = Counter(r.id for r in receiver.received)
    assert set(ids.values()) == {3}  # the same webhook-id on each of the three attempts
    items = await deliveries(owner, org_id, webhook)
    assert {(d["status"], d["attempts"], d["response_status"]) for d in items} == {
        ("delivered", 3, 200)
    }
    assert {d["event_id"] for d in items} == {r.id for r in done}
    assert all(d["next_attempt_at"] is not None for d in first)


async def test_an_endpoint_failing_for_five_days_is_disabled_until_re_enabled(
    make_org, make_webhook, receiver, deliver, clock
) -> None:
    receiver.answer = lambda number, received: 503
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["link.created"])
    links = f"/api/v1/orgs/{org_id}/links"
    await owner.client.post(links, json={"url": "https://example.com/1"})
    await deliver()
    for hours in (1, 2, 5, 10, 10, 10, 10):  # past every retry of the first event
        clock.travel(hours=hours)
        await deliver()
    [first] = await deliveries(owner, org_id, webhook)
    assert (first["status"], first["attempts"], first["next_attempt_at"]) == ("failed", 8, None)
    listed = (await (await owner.client.get(hooks(org_id))).get_json())["items"][0]
    assert listed["enabled"] is True  # failing for two days only

    clock.travel(days=3)
    await owner.client.post(links, json={"url": "https://example.com/2"})
    await deliver()
    listed = (await (await owner.client.get(hooks(org_id))).get_json())["items"][0]
    assert listed["enabled"] is False
    assert "5 days" in listed["disabled_reason"] and "503" in listed["disabled_reason"]
    # Its pending delivery fails rather than going on; new events are not queued for it.
    clock.travel(seconds=5)
    await deliver()
    await owner.client.post(links, json={"url": "https://example.com/3"})
    assert {d["status"] for d in await deliveries(owner, org_id, webhook)} == {"failed"}
    assert len(await deliveries(owner, org_id, webhook)) == 2

    receiver.answer = lambda number, received: 200
    response = await owner.client.patch(hooks(org_id, f"/{webhook['id']}"), json={"enabled": True})
    assert (await response.get_json())["disabled_reason"] is None
    await owner.client.post(links, json={"url": "https://example.com/4"})
    await deliver()
    assert [r.event["data"]["url"] for r in receiver.delivered()] == ["https://example.com/4"]


async def test_a_failed_delivery_is_retried_by_hand(
    make_org, make_webhook, receiver, deliver, clock
) -> None:
    receiver.answer = lambda number, received: 500
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["link.created"])
    await owner.client.post(f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/"})
    await deliver()
    for hours in (1, 2, 5, 10, 10, 10, 10):
        clock.travel(hours=hours)
        await deliver()
    [failed] = await deliveries(owner, org_id, webhook)
    assert failed["status"] == "failed"
    receiver.answer = lambda number, received: 200
    path = hooks(org_id, f"/{webhook['id']}/deliveries/{failed['id']}/retry")
    assert (await owner.client.post(path)).status_code == 202
    await deliver()
    [done] = await deliveries(owner, org_id, webhook)
    assert (done["status"], done["attempts"], done["response_status"]) == ("delivered", 9, 200)
    assert [r.id for r in receiver.delivered()] == [failed["event_id"]]


async def test_a_rotated_secret_signs_alongside_the_old_one_for_a_day(
    make_org, make_webhook, receiver, deliver, clock
) -> None:
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["link.created"])
    old = webhook["secret"]
    response = await owner.client.post(hooks(org_id, f"/{webhook['id']}/rotate-secret"))
    assert response.status_code == 200
    new = (await response.get_json())["secret"]
    assert new.startswith("whsec_") and new != old
    receiver.secrets.append(new)
    links = f"/api/v1/orgs/{org_id}/links"
    await owner.client.post(links, json={"url": "https://example.com/1"})
    await deliver()
    [both] = receiver.delivered()
    assert len(both.signatures) == 2 and set(both.verified_by) == {old, new}

    clock.travel(hours=24, seconds=1)
    await owner.client.post(links, json={"url": "https://example.com/2"})
    await deliver()
    latest = receiver.delivered()[-1]
    assert len(latest.signatures) == 1 and latest.verified_by == [new]


async def test_the_address_is_checked_again_at_delivery(
    app, make_org, make_webhook, receiver, deliver
) -> None:
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["link.created"])
    # As if the name now resolved to a private address (DNS rebinding).
    services(app).webhooks.allow_private = False
    await owner.client.post(f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/"})
    await deliver()
    assert receiver.received == []
    [refused] = await deliveries(owner, org_id, webhook)
    assert (refused["status"], refused["response_status"]) == ("pending", None)
    assert "non-public" in refused["error"]


async def test_delivered_events_are_kept_for_seven_days(
    app, make_org, make_webhook, deliver, clock, db
) -> None:
    org_id, owner = await make_org()
    webhook = await make_webhook(org_id, owner, ["link.created"])
    await owner.client.post(f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/"})
    await deliver()
    sender = services(app).webhooks
    clock.travel(days=6)
    assert await sender.purge() == 0
    clock.travel(days=1, minutes=1)
    assert await sender.purge() == 1
    assert await deliveries(owner, org_id, webhook) == []
    assert await db.fetch_val("SELECT count(*) FROM webhook_events") == 0


async def test_a_named_host_is_reached_at_the_address_checked_with_its_name_kept(
    make_org, receiver, deliver
) -> None:
    org_id, owner = await make_org()
    url = receiver.url.replace("127.0.0.1", "localhost")
    response = await owner.client.post(
        hooks(org_id), json={"url": url, "events": ["link.created"]}
    )
    assert response.status_code == 201
    receiver.secrets.append((await response.get_json())["secret"])
    await owner.client.post(f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/"})
    await deliver()
    [received] = receiver.delivered()
    assert received.headers["host"] == f"localhost:{receiver.port}"
