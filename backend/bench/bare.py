"""The baseline: a bare ASGI app that answers every request with one fixed redirect.

It is what any Python redirect can reach on this machine with Kurz's server settings: no
routing, no lookup, no framework. ``python -m bench.bare`` serves it with uvicorn exactly as
``python -m kurz`` serves Kurz (same options, from the same settings).

The answer is the one Kurz gave for a real slug (status, headers and body), handed over by the
benchmark in ``KURZ_BARE_RESPONSE`` as JSON, so both servers send the same bytes.
"""

import json
import os

from kurz.__main__ import serve
from kurz.config import Settings

RESPONSE = json.loads(
    os.environ.get(
        "KURZ_BARE_RESPONSE",
        '{"status": 302, "headers": [["location", "https://example.com/"]], "body": ""}',
    )
)
START = {
    "type": "http.response.start",
    "status": RESPONSE["status"],
    "headers": [(name.encode(), value.encode()) for name, value in RESPONSE["headers"]],
}
BODY = {"type": "http.response.body", "body": RESPONSE["body"].encode()}


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(START)
    await send(BODY)


def main() -> None:
    serve("bench.bare:app", Settings.from_env())


if __name__ == "__main__":
    main()
