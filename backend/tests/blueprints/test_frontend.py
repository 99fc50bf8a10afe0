import re

from kurz.security import CONTENT_SECURITY_POLICY


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
        assert response.status_code == 404
        assert response.content_type == "application/problem+json"
    assert (await client.get("/assets/nope.js")).status_code == 404


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
