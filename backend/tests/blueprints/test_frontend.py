import posixpath
import re

from kurz.blueprints.frontend import UI, render_page
from kurz.security import CONTENT_SECURITY_POLICY
from tests.support import assert_problem


async def test_index_serves_the_ui_with_versioned_assets(client) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    page = await response.get_data(as_text=True)
    scripts = re.findall(r'src="(/assets/v-[0-9a-f]{12}/app\.js)"', page)
    assert scripts, page
    asset = await client.get(scripts[0])
    assert asset.status_code == 200
    assert asset.content_type.startswith(("text/javascript", "application/javascript"))
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"


async def test_unversioned_or_stale_assets_must_be_revalidated(client) -> None:
    for path in ("/assets/app.css", "/assets/v-000000000000/app.css"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-cache"


async def test_assets_cannot_escape_their_folder(client) -> None:
    for path in ("/assets/../index.html", "/assets/v-1/../../backend/pyproject.toml"):
        response = await client.get(path)
        await assert_problem(response, 404)
    assert (await client.get("/assets/nope.js")).status_code == 404
    for path in ("/assets/a%00b", "/assets/" + "a" * 5000, "/docs/assets/a%00b"):
        assert (await client.get(path)).status_code == 404


async def test_docs_are_self_hosted(client) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert "http" not in page  # nothing loaded from another host
    for path in re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page):
        assert (await client.get(path)).status_code == 200, path


async def test_every_answer_carries_security_headers(client) -> None:
    for path in ("/", "/healthz", "/openapi.json", "/api/v1/nope", "/docs"):
        response = await client.get(path)
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in response.headers


async def test_hsts_only_over_https(client) -> None:
    response = await client.get("/healthz", scheme="https")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_every_module_the_ui_imports_is_served_under_the_version(client) -> None:
    page = await (await client.get("/")).get_data(as_text=True)
    prefix = re.search(r'src="(/assets/v-[0-9a-f]{12}/)app\.js"', page).group(1)
    pending, seen = ["app.js"], set()
    while pending:
        name = pending.pop()
        seen.add(name)
        response = await client.get(prefix + name)
        assert response.status_code == 200, name
        folder = name.rpartition("/")[0]
        for target in re.findall(r"""from '(\.{1,2}/[^']+)'""", await response.get_data(True)):
            resolved = posixpath.normpath(posixpath.join(folder, target))
            if resolved not in seen:
                pending.append(resolved)
    assert {"api.js", "views/links.js", "chart.js"} <= seen


async def test_pages_fill_in_placeholders_escaped(app) -> None:
    async with app.app_context():
        page = render_page(UI, "error.html", title="<Gone>", message="Tom & Jerry")
    assert "<title>&lt;Gone&gt; · Kurz</title>" in page
    assert "<p>Tom &amp; Jerry</p>" in page
    assert re.search(r'href="/assets/v-[0-9a-f]{12}/app\.css"', page)
    assert "{{" not in page
