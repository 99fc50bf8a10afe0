"""Overload on a live server: floods of password checks, and slow or idle clients."""

import asyncio
import uuid

import httpx

from .helpers import PROBLEM, register

LOGINS = 60


async def test_a_flood_of_logins_is_bounded_and_other_calls_stay_fast(live_server) -> None:
    user = register(live_server.base_url)
    limits = httpx.Limits(max_connections=LOGINS + 10)
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=60, limits=limits) as http:

        async def login() -> httpx.Response:
            body = {"email": f"{uuid.uuid4().hex}@example.com", "password": "wrong password"}
            return await http.post("/api/v1/session", json=body)

        logins = [asyncio.create_task(login()) for _ in range(LOGINS)]
        # Once the first BUSY is back the flood is in, and most hashes are still to come.
        busy = None
        for finished in asyncio.as_completed(logins):
            response = await finished
            if response.status_code == 503:
                busy = response
                break
        assert busy is not None, "no login was refused as BUSY"
        answer = await http.get("/api/v1/session", cookies={"kurz_session": user.session_cookie})
        pending_after_call = sum(not task.done() for task in logins)
        responses = await asyncio.gather(*logins)

    assert answer.status_code == 200 and answer.json()["email"] == user.email
    assert pending_after_call > 0  # the normal call was answered while logins still queued
    assert busy.headers["content-type"].startswith(PROBLEM)
    assert busy.json()["code"] == "BUSY" and int(busy.headers["retry-after"]) >= 1
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {401, 503}, statuses
    assert statuses.count(401) >= 2  # the admitted ones were checked, as usual
    for response in responses:
        if response.status_code == 503:
            assert response.json()["code"] == "BUSY"
