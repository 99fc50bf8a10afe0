"""The ceiling: a bare ASGI app that answers every request with one fixed redirect.

It is what a plain Python redirect can reach on this machine: no routing, no lookup, no
framework, served by plain uvicorn (httptools, no access log), none of Kurz's server
additions. ``python -m bench.bare`` serves it on ``KURZ_HOST``/``KURZ_PORT``.

The answer is the one Kurz gave for a real slug (status, headers and body), handed over by the
benchmark in ``KURZ_BARE_RESPONSE`` as JSON, so both servers send the same bytes.
"""

import json
import os

import uvicorn

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
    uvicorn.run(
        app,
        host=os.environ.get("KURZ_HOST", "127.0.0.1"),
        port=int(os.environ.get("KURZ_PORT", "5000")),
        http="httptools",
        access_log=False,
    )


if __name__ == "__main__":
    main()
