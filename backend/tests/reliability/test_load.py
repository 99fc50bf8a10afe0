"""Half a minute of mixed load on one worker: no 5xx, no transport errors, memory stays flat."""

import random
import statistics
import threading
import time
from collections import Counter

import httpx
import pytest

from .helpers import client, create_link, create_org, create_token, register, rss_kib, visit

SECONDS = 30
WARM_UP = 10  # RSS is compared between the end of the warm-up and the end of the run
WORKERS = 4


@pytest.mark.slow
def test_half_a_minute_of_mixed_load_gives_no_errors_and_stable_memory(live_server) -> None:
    owner = register(live_server.base_url)
    org_id = create_org(owner)
    token = create_token(owner, org_id)
    api = client(live_server.base_url, headers={"Authorization": f"Bearer {token}"})
    slugs = [create_link(api, org_id)["slug"] for _ in range(50)]

    statuses: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []
    deadline = time.monotonic() + SECONDS

    def work(seed: int) -> None:
        chooser = random.Random(seed)
        headers = {"Authorization": f"Bearer {token}"}
        with client(live_server.base_url, headers=headers) as http:
            while time.monotonic() < deadline:
                draw = chooser.random()
                try:
                    if draw < 0.75:
                        kind, response = "redirect", visit(http, chooser.choice(slugs))
                    elif draw < 0.93:
                        kind = "list"
                        response = http.get(f"/api/v1/orgs/{org_id}/links", params={"limit": 20})
                        cursor = response.json().get("next_cursor")
                        if cursor and chooser.random() < 0.5:
                            response = http.get(
                                f"/api/v1/orgs/{org_id}/links",
                                params={"limit": 20, "cursor": cursor},
                            )
                    else:
                        kind = "create"
                        response = http.post(
                            f"/api/v1/orgs/{org_id}/links",
                            json={"url": f"https://example.com/{chooser.random()}"},
                        )
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                    continue
                statuses[(kind, response.status_code)] += 1

    samples: list[tuple[float, int]] = []
    workers = [threading.Thread(target=work, args=(seed,)) for seed in range(WORKERS)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        samples.append((time.monotonic() - started, rss_kib(live_server.process.pid)))
        time.sleep(1)
    for worker in workers:
        worker.join()

    assert not failures, failures[:5]
    assert statuses == Counter(
        {key: count for key, count in statuses.items() if key[1] in (200, 201, 302)}
    ), statuses
    assert sum(count for (kind, _), count in statuses.items() if kind == "redirect") > 1000
    after_warm_up = statistics.median(
        rss for at, rss in samples if WARM_UP - 3 <= at <= WARM_UP + 3
    )
    at_the_end = statistics.median(rss for _, rss in samples[-6:])
    growth = at_the_end / after_warm_up - 1
    assert growth < 0.10, (after_warm_up, at_the_end, samples)
