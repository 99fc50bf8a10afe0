"""The browser UI (``frontend/``) at ``/``, and the self-hosted API docs at ``/docs``.

Asset URLs in pages are rewritten to ``/assets/v-<hash>/...``, a hash over all assets, so browsers
may cache them forever; relative module imports inherit the versioned prefix.
"""

import hashlib
import html
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from quart import Blueprint, Response, request
from quart_rate_limiter import rate_exempt
from quart_schema import hide

from ..auth import SESSION_COOKIE
from ..config import BACKEND_DIR
from ..errors import APIError
from ..services import current_services

FRONTEND_DIR = BACKEND_DIR.parent / "frontend"
DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"
IMMUTABLE = "public, max-age=31536000, immutable"

blueprint = Blueprint("frontend", __name__)


@dataclass(frozen=True)
class Site:
    """A folder of pages and an ``assets/`` folder beneath it, versioned by content."""

    root: Path
    prefix: str  # the URL path the assets are served under

    @property
    def version(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.assets.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(self.assets).as_posix().encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()[:12]

    @property
    def assets(self) -> Path:
        return self.root / "assets"

    def page(self, name: str, version: str, **values: str) -> str:
        """A page with versioned asset URLs and ``{{placeholders}}`` filled in, HTML-escaped."""
        text = (self.root / name).read_text()
        text = text.replace(f'"{self.prefix}/', f'"{self.prefix}/v-{version}/')
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", html.escape(value))
        return text

    def asset(self, name: str) -> Path:
        try:  # a NUL or an over-long name is no file either
            path = (self.assets / name).resolve()
            found = path.is_file() and path.is_relative_to(self.assets.resolve())
        except (ValueError, OSError):
            found = False
        if not found:
            raise APIError(404, "NOT_FOUND", "No such file.")
        return path


UI = Site(FRONTEND_DIR, "/assets")
DOCS = Site(DOCS_DIR, "/docs/assets")


def versions() -> dict[str, str]:
    """Computed once per app: assets only change with a deploy (or a development restart)."""
    services = current_services()
    if services.asset_versions is None:
        services.asset_versions = {UI.prefix: UI.version, DOCS.prefix: DOCS.version}
    return services.asset_versions


def render_page(site: Site, name: str, **values: str) -> str:
    return site.page(name, versions()[site.prefix], **values)


def _html(text: str, status: int = 200) -> Response:
    response = Response(text, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    return response


async def _asset(site: Site, name: str) -> Response:
    """Serve ``v-<version>/<file>`` (cached for good when current) or plain ``<file>``."""
    version, _, rest = name.partition("/")
    if version.startswith("v-") and rest:
        name, version = rest, version[2:]
    path = site.asset(name)
    response = Response(
        path.read_bytes(),
        content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
    )
    # Only the current version may be cached for good; anything else must be revalidated.
    current = version == versions()[site.prefix]
    response.headers["Cache-Control"] = IMMUTABLE if current else "no-cache"
    return response


@blueprint.get("/")
@rate_exempt
@hide
async def index() -> Response:
    """The single-page UI. It is told whether a session cookie came along, so that a visitor
    without one is not sent a session probe whose 401 browsers log as an error."""
    has_cookie = SESSION_COOKIE in request.cookies
    return _html(render_page(UI, "index.html", session="present" if has_cookie else "none"))


@blueprint.get("/assets/<path:name>")
@rate_exempt
@hide
async def ui_asset(name: str) -> Response:
    return await _asset(UI, name)


@blueprint.get("/docs")
@rate_exempt
@hide
async def docs() -> Response:
    """Interactive API docs (Swagger UI, self-hosted) for /openapi.json."""
    return _html(render_page(DOCS, "index.html"))


@blueprint.get("/docs/assets/<path:name>")
@rate_exempt
@hide
async def docs_asset(name: str) -> Response:
    return await _asset(DOCS, name)
