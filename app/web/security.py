"""Security headers on every response of the web app, and the check of `next` redirects.

The Content-Security-Policy allows scripts and style sheets from this site only: the pages carry
no inline `<script>`, `<style>` or `on*=` handler (their code is in app/web/static). Two
exceptions, both named here:

- style *attributes* (`style-src-attr 'unsafe-inline'`): a few templates size elements or paint
  config colours (board columns, choice dots) with `style="..."`. Attributes cannot run script;
  `<style>` elements stay forbidden (`style-src-elem 'self'`).
- the flask-admin back office (`/admin/`): flask-admin's own templates use `onclick=` handlers
  and `href="javascript:void(0)"` (row delete confirmation, bulk actions, filter menu), so its
  pages get `script-src 'self' 'unsafe-inline'`; everything else is the same policy.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, request
from flask_login import current_user
from werkzeug.wrappers import Response

ADMIN_PREFIX = "/admin"
HSTS = "max-age=31536000"
_BASE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "style-src-elem": "'self'",
    "style-src-attr": "'unsafe-inline'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _policy(**changes: str) -> str:
    return "; ".join(f"{k} {v}" for k, v in {**_BASE_POLICY, **changes}.items())


#: the Content-Security-Policy of every page but the back office
CSP = _policy()
#: the back office's: flask-admin's templates need inline event handlers
ADMIN_CSP = _policy(**{"script-src": "'self' 'unsafe-inline'"})
#: endpoints that serve static files: cacheable whoever asks
_STATIC_ENDPOINTS = {"static", "api_docs.asset"}
# control characters, which browsers drop from URLs ("/\t/evil" -> "//evil"), and "\\",
# which they read as "/" ("/\\evil" -> "//evil")
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def _is_static(endpoint: str | None) -> bool:
    return endpoint is not None and (endpoint in _STATIC_ENDPOINTS
                                     or endpoint.endswith(".static"))


def install(app: Flask, *, hsts: bool) -> None:
    """Add the security headers to every response of `app`; `hsts` (config `secure_cookies`)
    adds Strict-Transport-Security."""

    @app.after_request
    def security_headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Content-Security-Policy",
                     ADMIN_CSP if is_admin_path(request.path) else CSP)
        if hsts:
            h.setdefault("Strict-Transport-Security", HSTS)
        if not _is_static(request.endpoint) and (
                request.path.startswith("/api/") or _signed_in()):
            h["Cache-Control"] = "no-store"
            h.pop("Expires", None)
        return response


def _signed_in() -> bool:
    return bool(getattr(current_user, "is_authenticated", False))


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site ("/opportunity/3?tab=x"), else None: no scheme,
    no host, no "//" or "/\\" (browsers read both as another host), no control characters."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if _UNSAFE_CHARS.search(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
