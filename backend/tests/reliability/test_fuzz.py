"""``schemathesis run --checks all`` (version 4) against a live server, as an org's API token.

Every operation of /openapi.json gets 40 generated examples per phase (coverage, fuzzing and
stateful), with the org's ``org_id`` and a link's ``slug`` as path parameters, and every check
schemathesis has: no 5xx, statuses, content types, headers and bodies as documented, every
schema-valid request accepted and every schema-invalid one refused, authentication enforced.
Any failure fails the test. The settings are in ``schemathesis.toml`` beside this file.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import create_link, create_org, create_token, register

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
SEED = "20261207"  # the same examples every run, so that a failure reproduces


@pytest.mark.slow
def test_schemathesis_finds_nothing_the_openapi_document_does_not_say(live_server) -> None:
    base_url = live_server.base_url
    owner = register(base_url)
    org_id = create_org(owner)
    link = create_link(owner.http, org_id, slug="fuzzed-link")
    deleted = create_link(owner.http, org_id, slug="deleted-link")
    environment = {
        **os.environ,
        "KURZ_FUZZ_TOKEN": create_token(owner, org_id, role="admin"),
        "KURZ_FUZZ_ORG_ID": org_id,
        "KURZ_FUZZ_SLUG": link["slug"],
        "KURZ_FUZZ_DELETED_SLUG": deleted["slug"],
    }
    command = [
        str(SCHEMATHESIS),
        f"--config-file={CONFIG}",
        "run",
        f"{base_url}/openapi.json",
        "--checks=all",
        "--max-examples=40",
        f"--seed={SEED}",
        "--no-color",
    ]
    run = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=900, check=False
    )
    assert run.returncode == 0, run.stdout[-60000:] + run.stderr[-2000:]
    assert "Traceback" not in live_server.log()
