"""Schemathesis against /openapi.json of a live server, as a member and as an admin of an org.

Every /api/v1 operation gets valid and invalid generated requests, with the org, link, member
and token path parameters fixed to real ones (random ids would only ever meet 404). Checks:
no 5xx, every status code, content type and body documented, every error problem+json. All
failures are collected and reported together, one per operation and kind.
"""

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import PROBLEM

from .helpers import create_link, create_org, register

EXAMPLES = 12  # per operation and mode: bounded, so the run stays around half a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def problem_failure(response) -> str | None:
    """Why an error answer is not problem+json, if it is not."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    if not content_type.startswith(PROBLEM):
        return f"{response.status_code} answered as {content_type!r}, not {PROBLEM}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"{response.status_code} body is not JSON"
    if not isinstance(body, dict) or not PROBLEM_FIELDS <= body.keys():
        return f"{response.status_code} problem lacks {PROBLEM_FIELDS - set(body or ())}"
    if body["status"] != response.status_code:
        return f"problem status {body['status']} in a {response.status_code} answer"
    return None


def fuzz(operation, base_url: str, cookies: dict, fixed: dict, failures: dict) -> None:
    """Valid, then invalid requests to one operation; failures collected in ``failures``."""
    path_parameters = {
        name: value for name, value in fixed.items() if f"{{{name}}}" in operation.path
    }
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        label = (operation.label, mode.value)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        def run(case) -> None:
            response = case.call(base_url=base_url, cookies=cookies, timeout=10)
            problems = []
            try:
                case.validate_response(response, checks=CHECKS)
            except (
                Exception,
                BaseExceptionGroup,
            ) as error:  # noqa: B036 - a report, not a catch-all
                problems.append(str(error).strip().split("\n\nReproduce")[0][:1500])
            if reason := problem_failure(response):
                problems.append(reason)
            for problem in problems:
                key = (*label, problem.splitlines()[0][:120])  # noqa: B023 - run() runs here
                failures.setdefault(key, f"{case.as_curl_command()}\n{problem}")

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.slow
@pytest.mark.parametrize("role", ["member", "admin"])
def test_fuzzing_the_api_finds_no_server_errors_and_no_undocumented_answers(
    live_server, role: str
) -> None:
    base_url = live_server.base_url
    owner = register(base_url)
    org_id = create_org(owner)
    caller, other = register(base_url), register(base_url)
    for user, user_role in ((caller, role), (other, "member")):
        response = owner.http.post(
            f"/api/v1/orgs/{org_id}/members", json={"email": user.email, "role": user_role}
        )
        assert response.status_code == 201, response.text
    link = create_link(owner.http, org_id, slug="fuzzed-link")
    response = owner.http.post(
        f"/api/v1/orgs/{org_id}/tokens", json={"name": "fuzzed", "role": "member"}
    )
    assert response.status_code == 201, response.text
    fixed = {
        "org_id": org_id,
        "slug": link["slug"],
        "user_id": other.id,
        "token_id": response.json()["id"],
        "email": "invited@example.com",
    }

    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations, broken = [], []
    for result in schema.get_all_operations():
        try:
            operations.append(result.ok())
        except Exception as error:  # an operation the schema describes wrongly
            broken.append(repr(error))
    operations = [operation for operation in operations if operation.path.startswith("/api/v1/")]
    assert len(operations) >= 20, [operation.label for operation in operations]
    # Logging out ends the session the rest of the run uses: last.
    operations.sort(key=lambda operation: operation.label == "DELETE /api/v1/session")

    failures: dict[tuple[str, str, str], str] = {}
    cookies = {"kurz_session": caller.session_cookie}
    for operation in operations:
        fuzz(operation, base_url, cookies, fixed, failures)

    report = "\n\n".join(
        f"### {label} ({mode}): {title}\n{detail}"
        for (label, mode, title), detail in failures.items()
    )
    assert not broken and not failures, f"{len(failures)} failures\n{broken}\n{report}"
    assert "Traceback" not in live_server.log()
