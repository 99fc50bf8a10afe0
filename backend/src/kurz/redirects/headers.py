"""What every redirect answer carries, whichever path sends it.

Caching by browsers: 302 and 307 are ``no-store`` so that every visit reaches Kurz and is
counted. 301 and 308 say "permanent", and browsers would otherwise keep them forever; they may
be cached for an hour (``private``: by browsers, not shared proxies), which bounds how long a
browser that saw one keeps going to the old target after an edit, disable or delete.
"""

CACHE_CONTROL = {
    301: "private, max-age=3600",
    302: "no-store",
    307: "no-store",
    308: "private, max-age=3600",
}
# Remembers, per browser, that a password-protected link was unlocked (see blueprints/redirects).
UNLOCK_COOKIE = "kurz_unlock"


def redirect_headers(status: int, location: str) -> dict[str, str]:
    """The headers of a redirect answer (security headers are added by whoever sends it)."""
    return {"Location": location, "Cache-Control": CACHE_CONTROL[status]}
