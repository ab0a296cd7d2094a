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
    """What the receiver said: a status code (None when no answer came), an error text, and
    the start of the answer's body. `permanent`: trying again cannot help (give up now)."""

    status: int | None
    error: str | None = None
    permanent: bool = False
    #: the first 64 KiB of the answer (2 KiB of an error answer), decoded as UTF-8
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to `url` (`headers` may replace the User-Agent). Errors never hold the URL:
    its path or query may carry a key."""
    if not url.startswith(("http://", "https://")):
        return Answer(None, "not an http(s) URL")
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"User-Agent": USER_AGENT, **headers})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            text = resp.read(65536).decode("utf-8", "replace")
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        text = exc.read(2048).decode("utf-8", "replace") if exc.fp else ""
        exc.close()
        return Answer(exc.code, f"HTTP {exc.code} {exc.reason}: {text[:300]}".strip(),
                      text=text)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(None, f"{type(exc).__name__}: {reason}")
    except ValueError as exc:  # its text may quote the URL
        return Answer(None, f"{type(exc).__name__}: the URL is not valid")
    if 200 <= status < 300:
        return Answer(status, text=text)
    return Answer(status, f"HTTP {status}", text=text)
