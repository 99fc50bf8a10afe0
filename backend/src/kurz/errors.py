"""One error type, and the one handler that renders every error as problem+json (RFC 9457)."""

import json
import logging
from http import HTTPStatus
from typing import Any

from asyncpg import CharacterNotInRepertoireError, ForeignKeyViolationError
from quart import Quart, Response
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from .database import is_unavailable

log = logging.getLogger(__name__)

# Stable codes for errors raised by the framework rather than by Kurz's own code.
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "NOT_AUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    500: "INTERNAL_ERROR",
}


# What a timestamp field says to anything that is not an ISO 8601 time with an offset.
TIMESTAMP_MESSAGE = "Send an ISO 8601 time with its offset, such as 2026-11-23T10:15:00Z."

# Fields whose every problem has a code of its own in API.md, wrong types and absence included.
FIELD_CODES = {"url": "INVALID_URL", "slug": "INVALID_SLUG"}


class APIError(Exception):
    """An answer other than success: ``raise APIError(404, "LINK_NOT_FOUND")``."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def validation_error(field: str, message: str, code: str = "VALIDATION_ERROR") -> APIError:
    """A 400 naming the one field at fault."""
    return APIError(400, code, message, errors=[{"field": field, "message": message}])


def org_not_found() -> APIError:
    # Same answer for "no such org" and "not yours": never reveal that an org exists.
    return APIError(404, "ORG_NOT_FOUND", "No such organization.")


def problem_body(error: APIError) -> bytes:
    """The problem+json document of an error (also sent by the HTTP protocol, see http_limits)."""
    return json.dumps(problem_document(error)).encode()


def problem_document(error: APIError) -> dict[str, Any]:
    """The problem object of an error (also the ``error`` of a batch item)."""
    title = HTTPStatus(error.status).phrase
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": error.status,
        "detail": error.detail or title,
        "code": error.code,
    }
    if error.errors is not None:
        body["errors"] = error.errors
    return body


def problem_response(error: APIError) -> Response:
    response = Response(
        problem_body(error), status=error.status, content_type="application/problem+json"
    )
    if error.status == 401:  # RFC 9110: a 401 names a scheme that could succeed
        response.headers["WWW-Authenticate"] = 'Bearer realm="kurz"'
    response.headers.update(error.headers)
    return response


def _from_schema_validation(error: RequestSchemaValidationError) -> APIError:
    return validation_problem(error.validation_error)


def validation_problem(cause: Exception) -> APIError:
    """The 400 of a body (or a batch item) that its pydantic model refused."""
    code = "VALIDATION_ERROR"
    if hasattr(cause, "errors"):  # pydantic
        items = cause.errors()
        errors = [
            {
                "field": ".".join(str(part) for part in item["loc"]) or "body",
                "message": _field_message(item),
            }
            for item in items
        ]
        if items and items[0]["type"] != "extra_forbidden":  # a field the body may not have
            code = FIELD_CODES.get(errors[0]["field"], code)
    else:
        errors = [{"field": "body", "message": str(cause)}]
    return APIError(400, code, "The request is not valid.", errors=errors)


def _field_message(item: dict[str, Any]) -> str:
    """The failures people meet most, worded for the form field they are shown under; others
    in pydantic's words."""
    context = item.get("ctx", {})
    match item["type"], context.get("min_length"):
        case "missing", _:
            return "This field is required."
        case "extra_forbidden", _:
            return "This field is not accepted here."
        case "string_too_short", 1:
            return "This must not be empty."
        case "string_too_short", minimum:
            return f"This needs at least {minimum} characters."
        case "string_too_long", _:
            return f"This may have at most {context['max_length']} characters."
        case "value_error", _:  # without pydantic's prefix: our validators' or email-validator's
            return str(context.get("error", context.get("reason", item["msg"])))
        case kind, _ if kind.startswith(("datetime", "timezone")):
            return TIMESTAMP_MESSAGE
    return str(item["msg"])


def from_http_exception(error: HTTPException) -> APIError:
    status = error.code or 500
    headers = dict(error.get_headers())  # Allow of a 405, Retry-After of a 429, ...
    headers.pop("Content-Type", None)
    if status == 415:  # a body that is not JSON where JSON is expected
        return APIError(400, "UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json.")
    if status == 400:
        return APIError(400, "MALFORMED_REQUEST", "The request body is not valid JSON.")
    return APIError(
        status,
        HTTP_CODES.get(status, "HTTP_ERROR"),
        error.description if status < 500 else None,
        headers=headers,
    )


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(APIError)
    async def handle_api_error(error: APIError) -> Response:
        return problem_response(error)

    @app.errorhandler(RequestSchemaValidationError)
    async def handle_validation_error(error: RequestSchemaValidationError) -> Response:
        return problem_response(_from_schema_validation(error))

    @app.errorhandler(HTTPException)
    async def handle_http_exception(error: HTTPException) -> Response:
        return problem_response(from_http_exception(error))

    @app.errorhandler(UnicodeDecodeError)
    async def handle_undecodable_body(error: UnicodeDecodeError) -> Response:
        return problem_response(APIError(400, "MALFORMED_REQUEST", "The body is not UTF-8."))

    @app.errorhandler(CharacterNotInRepertoireError)
    async def handle_nul_character(error: CharacterNotInRepertoireError) -> Response:
        # PostgreSQL text cannot hold NUL; the statement failed, so nothing was written.
        return problem_response(
            validation_error("body", "Text may not contain NUL (\\u0000) characters.")
        )

    @app.errorhandler(UnicodeEncodeError)
    async def handle_lone_surrogate(error: UnicodeEncodeError) -> Response:
        # JSON may escape half a surrogate pair ("\ud800"), which no text can store.
        return problem_response(validation_error("body", "Text must be valid Unicode."))

    @app.errorhandler(RecursionError)
    async def handle_deep_nesting(error: RecursionError) -> Response:
        # JSON nested thousands deep: the parser gives up before anything is read.
        return problem_response(APIError(400, "MALFORMED_REQUEST", "The body is nested too deep."))

    @app.errorhandler(ForeignKeyViolationError)
    async def handle_vanished_reference(error: ForeignKeyViolationError) -> Response:
        # What the request refers to was deleted by another one meanwhile (nothing was written):
        # usually the org, which then answers as any unknown org does.
        if (error.constraint_name or "").endswith("org_id_fkey"):
            return problem_response(org_not_found())
        return problem_response(
            APIError(409, "CONFLICT", "Something this request refers to was just deleted.")
        )

    @app.errorhandler(Exception)
    async def handle_unexpected(error: Exception) -> Response:
        if is_unavailable(error):
            log.warning("database unavailable: %s: %s", type(error).__name__, error)
            return problem_response(
                APIError(
                    503,
                    "DATABASE_UNAVAILABLE",
                    "The database is unavailable; try again shortly.",
                    headers={"Retry-After": "5"},
                )
            )
        # Logged in full for operators; the client learns nothing about internals.
        log.exception("unhandled error")
        return problem_response(APIError(500, "INTERNAL_ERROR", "Something went wrong."))
