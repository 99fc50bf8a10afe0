"""The job worker's process: ``python -m kurz`` runs one next to its web server, so that webhook
deliveries, mail and imports never take the event loop that answers redirects.

``JobProcess`` runs in the server's process: it starts the worker, starts it again if it dies,
and stops it with the server. ``python -m kurz.job_process [server pid]`` is the worker: the
app's services in the "jobs" role (the pool, migrations, webhooks' retention and the job worker)
until SIGTERM. Started by a server, it dies with the server's process however that ends, even
killed: an instance is both or none.
"""

import asyncio
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from types import TracebackType

from .app import create_app
from .config import Settings, StartupError, configure_logging

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# The worker's own grace for running jobs is 5 s; then its pool closes.
STOP_SECONDS = 20.0
MAX_RESTART_DELAY = 30.0
# A worker that ran this long before dying was not crash-looping: its restart waits 1 s again.
STEADY_SECONDS = 60.0


class JobProcess:
    """``with JobProcess(): serve(...)``: the job worker's process, kept running meanwhile."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._supervise, name="kurz-jobs", daemon=True)

    def __enter__(self) -> "JobProcess":
        self._thread.start()
        return self

    def __exit__(
        self,
        exception_type: type[BaseException] | None,
        exception: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._thread.join()

    def _supervise(self) -> None:
        delay = 1.0
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                started = time.monotonic()
                self._process = subprocess.Popen(  # noqa: S603 - this very Python, no input
                    [sys.executable, "-m", "kurz.job_process", str(os.getpid())]
                )
            code = self._process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > STEADY_SECONDS:
                delay = 1.0
            log.error("the job worker's process exited (%s); starting again in %gs", code, delay)
            self._stopping.wait(delay)
            delay = min(delay * 2, MAX_RESTART_DELAY)


def die_with(parent: int) -> None:
    """Have the kernel kill this process when ``parent`` ends (or exit now if it has). Linux
    only: elsewhere (a developer's machine) a killed server may leave its worker running."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit(0)


async def run(settings: Settings, stop_signals: tuple[signal.Signals, ...]) -> None:
    app = create_app(settings)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    # Stopped while starting (the database still out of reach, say): give up at once.
    for stop_signal in stop_signals:
        loop.add_signal_handler(stop_signal, task.cancel)
    try:
        await app.startup()
    except asyncio.CancelledError:
        return
    stopping = asyncio.Event()
    for stop_signal in stop_signals:
        loop.add_signal_handler(stop_signal, stopping.set)
    try:
        await stopping.wait()
    finally:
        await app.shutdown()


def main() -> None:
    stop_signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)
    if len(sys.argv) > 1:  # started by a server: its process id
        die_with(int(sys.argv[1]))
        # Ctrl+C reaches the whole process group; the server stops this process in its turn.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_signals = (signal.SIGTERM,)
    configure_logging()
    try:
        asyncio.run(run(replace(Settings.from_env(), role="jobs"), stop_signals))
    except StartupError as error:
        sys.exit(f"kurz jobs: {error}")


if __name__ == "__main__":
    main()
