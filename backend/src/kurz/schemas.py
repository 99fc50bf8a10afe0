"""Shared pieces of request and response bodies, so /openapi.json describes what is really sent.

- ``Input``: base of every request body: unknown fields and loosely typed values are refused.
- ``Answer``: base of answer bodies that are a model's dataclass field for field.
- ``Query``: base of every query string: an empty value (``?days=``) is checked, not dropped.
- ``Timestamp``: a datetime answered as ISO 8601 in UTC (``2026-11-23T10:15:00Z``).
- ``WebUrl``, ``TagName``, ``Cursor``, ``Text``, ``ID_PATTERN``: fields documented with the
  formats and patterns their checks enforce.
- ``Problem`` and ``problems(...)``: the problem+json error body, documented per route.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from quart_schema import document_response
from quart_schema.openapi import OpenAPIProvider
from quart_schema.typing import Model
from quart_schema.validation import DataSource
from werkzeug.routing import Rule

from .models.tokens import Role as Role  # the roles' schema

# Text PostgreSQL can hold (it cannot hold NUL), for fields that take any other character.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(pattern=NO_NUL)]
# The same with something besides white space, for names trimmed before they are checked.
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
# An id as Kurz writes it: a UUID, lower or upper case, with its hyphens.
ID_PATTERN = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
T = TypeVar("T", bound=Callable[..., Any])
JSON = "application/json"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


# An absolute http(s) URL as the checks of ``slugs.check_url`` and ``webhooks.check_url`` let
# through (they also resolve the host, so a URL of this form can still be refused: when it leads
# back to this service, or a webhook's host has no public address). A host has at most 253
# characters: the second pattern.
_URL_CHARACTER = r"(?:[A-Za-z0-9._~:/?@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})"
WebUrl = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "format": "uri",
            "maxLength": 2048,
            "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
            r"(\.[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:[1-9][0-9]{0,3})?"
            rf"(/{_URL_CHARACTER}*)?(\?{_URL_CHARACTER}*)?(#{_URL_CHARACTER}*)?$",
            "allOf": [{"pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#:]{1,253}([/?#:]|$)"}],
        }
    ),
]


# A page cursor as ``cursors.seal_cursor`` writes it: URL-safe base64, unpadded, of a nonce, the
# sealed position and its tag (31 bytes at least). Only a cursor this service sent opens: any
# other is refused with 400 INVALID_CURSOR, which is why the pattern is only documented.
Cursor = Annotated[
    str,
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9_-]{42,200}$"}),
    Field(description="The next_cursor of the previous page; the first page when absent."),
]


# A domain as a client names one (any letter case, Unicode or IDNA); a name that is no
# verified domain of the org is refused, or matches nothing, where it is looked up.
DomainName = Annotated[str, Field(min_length=1, max_length=300, pattern=NO_NUL)]

# A tag name as ``slugs.check_tag_names`` takes it: trimmed, 1 to 40 characters, no control
# characters and no "|".
TagName = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": (
                r"^\s*[^\s\x00-\x1f\x7f-\x9f|]"
                r"([^\x00-\x1f\x7f-\x9f|]{0,38}[^\s\x00-\x1f\x7f-\x9f|])?\s*$"
            ),
        }
    ),
]


class Input(BaseModel):
    """A JSON request body: no unknown fields, no silent coercion ("yes" is not a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Answer(BaseModel):
    """An answer body that a model's dataclass fills field for field: ``MemberOut.model_validate
    (member)``."""

    model_config = ConfigDict(from_attributes=True)


class Query(BaseModel):
    """Query parameters. Each is checked as given, an empty one included: ``?days=`` is refused,
    as the schema says, not read as absent."""


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error, sent as application/problem+json (RFC 9457); switch on ``code``."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem] | None = None


class NoContent(BaseModel):
    """Done; the answer has no body."""


def no_content(func: T) -> T:
    """Document a route's 204 answer."""
    return document_response(NoContent, 204)(func)


class KurzOpenAPIProvider(OpenAPIProvider):
    """Documents request bodies as required (and in their own media types) and query parameters
    as required when they are, answers with the media type they are really sent as, and who may
    call: ``public`` routes anyone, org routes an org's token or a session, the others a session.

    ``Problem``: application/problem+json; ``NoContent``: no body; a model with a
    ``content_types`` class attribute: those (non-JSON) media types, e.g. images; a model of
    ``or_csv``: JSON, or text/csv.
    """

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, definitions = super().build_paths(rule)
        security: list[dict[str, list[str]]]
        if getattr(self._app.view_functions[rule.endpoint], "public", False):
            security = []
        elif rule.rule.startswith("/api/v1/orgs/<"):
            security = [{"token": []}, {"session": []}]  # an org's token acts inside its org
        else:
            security = [{"session": []}]
        for operations in paths.values():
            for operation in operations.values():
                operation["security"] = security
        return paths, definitions

    def build_request_body(
        self, model: type[Model], source: DataSource
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        body, definitions = super().build_request_body(model, source)
        body["required"] = True  # every route with a body model refuses a request without one
        if media_types := getattr(model, "content_types", None):
            text = {"schema": {"type": "string"}}
            body["content"] = {media_type: text for media_type in media_types}
        return body, definitions

    def build_querystring_parameters(
        self, model: type[Model]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        parameters, definitions = super().build_querystring_parameters(model)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return parameters, definitions
        for parameter in parameters:
            field = model.model_fields[parameter["name"]]
            if field.is_required():
                parameter["required"] = True
        return parameters, definitions

    def build_response_object(
        self, model: type[Model], headers_model: type[Model] | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        response, definitions = super().build_response_object(model, headers_model)
        if model is NoContent:
            del response["content"]
        elif model is Problem:
            response["content"] = {"application/problem+json": response["content"].pop(JSON)}
        elif media_types := getattr(model, "content_types", None):
            binary = {"schema": {"type": "string", "format": "binary"}}
            response["content"] = {media_type: binary for media_type in media_types}
        elif getattr(model, "csv_too", False):
            response["content"]["text/csv"] = {"schema": {"type": "string"}}
        return response, definitions


def public(func: T) -> T:
    """Document a route that answers without a session or token (logging in, signing up)."""
    func.public = True  # type: ignore[attr-defined]
    return func


def or_csv(model: type) -> type:
    """``model`` documented as a JSON answer that ``format=csv`` turns into text/csv."""
    annotations = {"csv_too": ClassVar}  # a marker, not a field
    namespace = {"csv_too": True, "__doc__": model.__doc__, "__annotations__": annotations}
    return type(model.__name__, (model,), namespace)


def problems(*statuses: int) -> Callable[[T], T]:
    """Document the error answers a route gives (400, 401, 404, ...) in /openapi.json."""

    def decorator(func: T) -> T:
        for status in statuses:
            func = document_response(Problem, status)(func)
        return func

    return decorator
