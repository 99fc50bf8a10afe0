"""The Webhooks page: add an endpoint, see its secret once, send a test event, see the
delivery, retry it, disable and re-enable the endpoint, rotate its secret, delete it."""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests.reliability.helpers import query_value
from tests.support import run_admin, start_live_server, with_database
from tests.webhook_receiver import Receiver, ReceiverServer

from .ui import call, create_org, open_app, sign_up


@pytest.fixture(scope="module")
def webhook_database(postgres_url, template_database) -> Iterator[str]:
    name = f"kurz_webhooks_ui_{uuid.uuid4().hex[:12]}"
    run_admin(postgres_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield with_database(postgres_url, name)
    run_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def webhook_server(webhook_database, tmp_path_factory) -> Iterator:
    """A server of this module's own that may call a receiver on localhost."""
    server = start_live_server(
        webhook_database,
        tmp_path_factory.mktemp("webhooks-server"),
        KURZ_WEBHOOKS_ALLOW_PRIVATE="true",
        KURZ_JOB_POLL_SECONDS="0.2",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def base_url(webhook_server) -> str:
    return webhook_server.base_url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ReceiverServer(receiver)
    yield receiver
    server.close()


def test_an_admin_manages_an_endpoint_and_its_deliveries(page, context, receiver) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Hook Org")
    open_app(page, f"/orgs/{org}/webhooks")
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(page.get_by_test_id("webhooks-empty")).to_be_visible()

    form = page.get_by_test_id("webhook-form")
    form.get_by_label("Endpoint URL").fill(receiver.url)
    form.get_by_label("Description (optional)").fill("Our CRM")
    form.get_by_label("Link updated").uncheck()
    form.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_test_id("webhook-secret").get_by_label("Signing secret")
    expect(secret).to_be_visible()
    assert secret.input_value().startswith("whsec_")
    receiver.secrets.append(secret.input_value())
    endpoint = page.get_by_test_id("webhook")
    expect(endpoint).to_contain_text("Our CRM")
    expect(endpoint).to_contain_text("link.created, link.deleted, member.added, member.removed")
    expect(endpoint.get_by_test_id("webhook-state")).to_have_text("Enabled")

    page.get_by_role("button", name=f"Send test event to {receiver.url}").click()
    expect(page.get_by_test_id("flash")).to_contain_text("ping")
    receiver.wait_for(1)
    page.reload()
    rows = page.get_by_test_id("deliveries-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ping")
    expect(rows.first).to_contain_text("Delivered")
    expect(rows.first).to_contain_text("200")

    page.get_by_role("button", name="Retry delivery").click()
    expect(page.get_by_test_id("flash")).to_contain_text("queued again")
    receiver.wait_for(2)
    assert len({r.id for r in receiver.delivered()}) == 1  # the same event, sent again

    page.get_by_role("button", name=f"Disable {receiver.url}").click()
    expect(endpoint.get_by_test_id("webhook-state")).to_have_text("Disabled")
    page.get_by_role("button", name=f"Enable {receiver.url}").click()
    expect(page.get_by_test_id("webhook").get_by_test_id("webhook-state")).to_have_text("Enabled")

    page.get_by_role("button", name=f"Rotate secret of {receiver.url}").click()
    page.get_by_role("dialog").get_by_role("button", name="Rotate secret").click()
    rotated = page.get_by_test_id("webhook-secret").get_by_label("Signing secret")
    expect(page.get_by_test_id("webhook-secret")).to_contain_text("New secret")
    assert rotated.input_value() != receiver.secrets[0]

    page.get_by_role("button", name=f"Delete {receiver.url}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_test_id("webhooks-empty")).to_be_visible()
    assert call(context, "GET", f"/orgs/{org}/webhooks")["items"] == []


def test_a_disabled_endpoint_shows_why(page, context, receiver, webhook_database) -> None:
    owner = sign_up(context)
    org = create_org(owner, "Quiet Org")
    hook = call(
        context, "POST", f"/orgs/{org}/webhooks", {"url": receiver.url, "events": ["link.created"]}
    )
    # As the delivery worker leaves an endpoint that failed for days. (In a thread: the
    # browser's event loop runs in this one.)
    with ThreadPoolExecutor(1) as thread:
        thread.submit(
            query_value,
            webhook_database,
            "UPDATE webhooks SET enabled = false, disabled_reason = $1 WHERE id = $2::uuid",
            "Every delivery failed for 5 days; last: HTTP 503",
            hook["id"],
        ).result()
    open_app(page, f"/orgs/{org}/webhooks")
    expect(page.get_by_test_id("disabled-reason")).to_contain_text("failed for 5 days")
    expect(page.get_by_test_id("webhook-state")).to_have_text("Disabled")
