"""The webhook run of ``pdm run bench``: the clicks of some orgs' links go to a receiver on
loopback.

The first ``--webhook-orgs`` orgs of the redirect population get one endpoint each subscribed
to ``link.clicked`` (written with SQL, as the seed is: production accepts only https URLs
through the API), all pointing at one receiver, a threaded HTTP server in the benchmark's
process that answers 204 and counts (over kept-alive connections).
"""

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg

from kurz.sealing import seal
from kurz.webhooks import SEALING_PURPOSE, new_secret


class Receiver:
    def __init__(self) -> None:
        self.received = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps connections open, as real receivers do

            def do_POST(self) -> None:  # noqa: N802 - the http.server convention
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    outer.received += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/clicks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def _run(database_url: str, statement: str, *arguments) -> object:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetchval(statement, *arguments)
    finally:
        await connection.close()


def subscribe(database_url: str, secret_key: str, url: str, prefix: str, orgs: int) -> int:
    """One endpoint for link.clicked in each of the first ``orgs`` orgs owning links of the
    redirect population (``prefix`` and six digits); how many."""
    return asyncio.run(
        _run(
            database_url,
            """WITH made AS (
                   INSERT INTO webhooks (org_id, url, events, description, secret)
                   SELECT org_id, $1, ARRAY['link.clicked'], 'bench', $2
                     FROM (SELECT DISTINCT org_id FROM links
                            WHERE slug ~ ('^' || $3 || '[0-9]{6}$')
                            ORDER BY org_id LIMIT $4) AS population
                   RETURNING 1
               )
               SELECT count(*) FROM made""",
            url,
            seal(secret_key, SEALING_PURPOSE, new_secret()),
            prefix,
            orgs,
        )
    )


def unsubscribe(database_url: str) -> None:
    """Removes the endpoints and whatever was not delivered yet."""
    # Deliveries first, as the app deletes an endpoint (see models.webhooks.delete_webhook).
    for statement in (
        """DELETE FROM webhook_deliveries
            WHERE webhook_id IN (SELECT id FROM webhooks WHERE description = 'bench')""",
        "DELETE FROM webhooks WHERE description = 'bench'",
    ):
        asyncio.run(_run(database_url, statement))


def pending(database_url: str) -> int:
    return asyncio.run(
        _run(database_url, "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
    )
