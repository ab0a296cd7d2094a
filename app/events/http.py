"""One POST to a webhook receiver, with urllib from the standard library.

urllib rather than requests: one call with a timeout and no redirects needs no extra
dependency. Redirects are not followed (a 3xx is a failed attempt): a receiver that moved must
be updated in the YAML, and following them could send signed data somewhere unexpected.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)
USER_AGENT = "yamlcrm-webhooks/1"


@dataclass(frozen=True)
class Answer:
    """What the receiver said: a status code (None when no answer came) and an error text."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    if not url.startswith(("http://", "https://")):
        return Answer(None, f"not an http(s) URL: {url[:80]}")
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"User-Agent": USER_AGENT, **headers})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            resp.read(65536)
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        text = exc.read(300).decode("utf-8", "replace") if exc.fp else ""
        exc.close()
        return Answer(exc.code, f"HTTP {exc.code} {exc.reason}: {text}".strip())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(None, f"{type(exc).__name__}: {reason}")
    if 200 <= status < 300:
        return Answer(status)
    return Answer(status, f"HTTP {status}")
