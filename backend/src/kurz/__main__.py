"""``python -m kurz``: serve with uvicorn, and run the job worker in a process of its own;
``pdm run start`` and the Dockerfile run this."""

import gc
import os
import signal
import sys
from dataclasses import replace
from typing import Any

import uvicorn
from quart import Quart

from .app import create_app
from .config import ConfigError, Settings, configure_logging
from .job_process import JobProcess


def main() -> None:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        sys.exit(f"kurz: {error}")
    configure_logging()
    # A key made up for development (KURZ_SECRET_KEY unset) must be every process's.
    os.environ["KURZ_SECRET_KEY"] = settings.secret_key
    with JobProcess():
        serve("kurz.__main__:create_server_app", settings, factory=True)


def create_server_app() -> Quart:
    """The app as a server process runs it: what start-up built is then kept out of the
    garbage collector's full passes, whose pauses grow with every object they scan. Its jobs
    are the job worker's process's."""
    app = create_app(replace(Settings.from_env(), role="web"))
    app.before_serving(freeze_heap)  # after the app's own hooks: pool, migrations, cache
    return app


async def freeze_heap() -> None:
    gc.collect()
    gc.freeze()


def serve(app: str, settings: Settings, **options: Any) -> None:
    """Run ``app`` under uvicorn as production does (the benchmark's bare baseline too)."""
    # After its graceful shutdown uvicorn re-raises SIGTERM, so the process would end as killed
    # (exit 143); a finished graceful shutdown exits 0, which is what orchestrators expect.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        lifespan="on",
        # Per-request access lines cost throughput; production logs come from the proxy.
        access_log=not settings.production,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
        server_header=False,  # what software answers is nobody's business
        # httptools, with bounds on request heads (size, time) and connections; see http_limits.
        http="kurz.http_limits:BoundedHttpToolsProtocol",
        **options,
    )


if __name__ == "__main__":
    main()
