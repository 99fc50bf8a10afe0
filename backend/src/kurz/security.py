"""Security headers on every answer, including the redirect fast path's."""

# The UI and the API docs are self-hosted and load nothing from elsewhere, so the policy is strict.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Only sent over https: over plain http browsers ignore it, and local development must not stick.
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def security_headers(https: bool) -> list[tuple[str, str]]:
    headers = list(SECURITY_HEADERS.items())
    if https:
        headers.append(HSTS)
    return headers
