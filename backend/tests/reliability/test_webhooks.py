"""Webhook deliveries across real server processes: a process killed mid-delivery, and two
instances sharing the queue."""

import secrets
import signal
from collections import Counter

import pytest

from tests.webhook_receiver import Receiver, ReceiverServer

from .helpers import create_link, create_org, query_value, register, wait_for

# Instances share the key that their webhook secrets are encrypted with, as they must.
ENV = {
    "KURZ_WEBHOOKS_ALLOW_PRIVATE": "true",
    "KURZ_JOB_POLL_SECONDS": "0.2",
    "KURZ_SECRET_KEY": secrets.token_urlsafe(32),
}


@pytest.fixture
def receiver():
    receiver = Receiver()
    server = ReceiverServer(receiver)
    yield receiver
    server.close()


def add_webhook(user, org_id: str, receiver: Receiver, events: list[str]) -> dict:
    response = user.http.post(
        f"/api/v1/orgs/{org_id}/webhooks", json={"url": receiver.url, "events": events}
    )
    assert response.status_code == 201, response.text
    webhook = response.json()
    receiver.secrets.append(webhook["secret"])
    return webhook


def test_an_event_whose_sender_died_mid_delivery_is_delivered_after_a_restart(
    live_server_factory, database_url, receiver
) -> None:
    first = live_server_factory(database_url, **ENV)
    owner = register(first.base_url)
    org_id = create_org(owner)
    add_webhook(owner, org_id, receiver, ["link.created"])
    # The first attempt hangs in the receiver until the sender is gone.
    receiver.delay = lambda number, received: 3.0 if number == 1 else 0.0
    link = create_link(owner.http, org_id)
    wait_for(lambda: receiver.received, timeout=15)
    first.stop(signal.SIGKILL)

    second = live_server_factory(database_url, **ENV)
    # Taken up once the dead process's lease has run out.
    [delivered] = receiver.wait_for(1, timeout=45)
    assert delivered.event["data"]["slug"] == link["slug"]
    assert {r.id for r in receiver.received} == {delivered.id}
    status = wait_for(
        lambda: query_value(
            database_url, "SELECT status FROM webhook_deliveries WHERE status = 'delivered'"
        ),
        timeout=15,
    )
    assert status == "delivered"
    second.stop()


def test_two_instances_deliver_every_event_without_doubles(
    live_server_factory, database_url, receiver
) -> None:
    one = live_server_factory(database_url, **ENV)
    two = live_server_factory(database_url, **ENV)
    owner = register(one.base_url)
    org_id = create_org(owner)
    add_webhook(owner, org_id, receiver, ["link.created"])
    slugs = {create_link(owner.http, org_id)["slug"] for _ in range(40)}

    delivered = receiver.wait_for(40, timeout=60)
    assert {r.event["data"]["slug"] for r in delivered} == slugs
    # Nobody crashed, so nothing was sent twice.
    assert set(Counter(r.id for r in receiver.received).values()) == {1}
    assert one.process.poll() is None and two.process.poll() is None
