"""HTML from a document's template (in the sandbox of app/meta/documents.py), then a PDF from
that HTML (WeasyPrint, with the system's fonts: CJK text needs a CJK font such as WenQuanYi Zen
Hei, which `make install` sets up).

Nothing is fetched over the network while rendering: the only URLs a template may use are the
names of its own files (bundled with the config version: a stylesheet, a logo) and data: URIs.
A template that fails while rendering raises `RenderFailed` naming the template and the line.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from jinja2 import TemplateError, TemplateNotFound
from jinja2.exceptions import SecurityError

from app.i18n import _
from app.meta.documents import FILTERS, DocumentDef, environment
from app.records import RecordError

log = logging.getLogger(__name__)

#: the base URL of a document: its files are found by name below it
BASE = "file:///crm-documents/"
DATA_URI = re.compile(r"^data:([^,;]*)((?:;[^,;]*)*?)(;base64)?,(.*)$", re.S | re.I)


class RenderFailed(RecordError):
    """The template could not be rendered for this record: nothing was stored."""

    status = 422


# --- filters --------------------------------------------------------------------------------
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def _group_text(number: int) -> str:
    """0..9999 in capital numerals, zeros between digits kept as one 零."""
    out, zero = "", False
    for power in range(3, -1, -1):
        digit = number // 10 ** power % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[digit] + _UNITS[power]
    return out


def cn_upper(value: Any) -> str:
    """An amount in Chinese capital numerals, as on invoices and contracts:
    12345.6 -> 壹万贰仟叁佰肆拾伍元陆角整."""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return ""
    sign = "负" if amount < 0 else ""
    cents = int(abs(amount) * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if yuan >= 10 ** 16:
        return ""
    text, zero = "", False
    groups = [yuan // 10 ** (4 * i) % 10000 for i in range(4)]
    for i in range(3, -1, -1):
        g = groups[i]
        if g == 0:
            zero = bool(text)
            continue
        if text and (zero or g < 1000):
            text += "零"
        text += _group_text(g) + _GROUPS[i]
        zero = False
    text = (text + "元") if text else ""
    if jiao == 0 and fen == 0:
        return sign + (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    else:
        text += "整"
    return sign + text


def dec(value: Any) -> Decimal:
    """A number as a Decimal (0 for nothing), for arithmetic with money values."""
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{str(value)[:40]!r} is not a number") from None


def filters(money: Any, number: Any, when: Any) -> dict[str, Any]:
    """The FILTERS of app/meta/documents.py, in the user's locale and the document's
    currency."""
    found = {"money": money, "number": number, "date": when, "datetime": when,
             "cn_upper": cn_upper, "dec": dec}
    assert set(found) == set(FILTERS)
    return found


# --- HTML -----------------------------------------------------------------------------------
def _template_line(tb: TracebackType | None, names: Mapping[str, str]) -> tuple[str, int]:
    """The template file and line of the innermost frame of a template in a traceback."""
    found: tuple[str, int] = ("", 0)
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name in names:
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


def html(d: DocumentDef, context: Mapping[str, Any], tools: Mapping[str, Any]) -> str:
    """The document's HTML for `context`; RenderFailed names the template file and line."""
    env = environment(d.files)
    env.filters.update(tools)
    try:
        return env.get_template(d.template).render(context)
    except TemplateNotFound as exc:
        raise RenderFailed(_("Template %(template)s includes %(name)s, which the config does "
                             "not hold.", template=d.template, name=str(exc.name))) from exc
    except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError, LookupError,
            AttributeError, RecursionError) as exc:
        name, line = _template_line(exc.__traceback__, d.files)
        lineno = line or getattr(exc, "lineno", None) or 0
        raise RenderFailed(_("Template %(template)s, line %(line)s: %(problem)s",
                             template=name or d.template, line=lineno,
                             problem=_problem(exc))) from exc


def _problem(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:300]


# --- PDF ------------------------------------------------------------------------------------
def _fetcher(files: Mapping[str, str]) -> Any:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class BundleFetcher(URLFetcher):
        """A document's own files and data: URIs; nothing else (no network, no disk)."""

        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            if url.startswith(BASE):
                name = unquote(url[len(BASE):].split("?")[0].split("#")[0])
                text = files.get(name)
                if text is None:
                    raise ValueError(f"the config holds no file {name!r}")
                if text.startswith("data:"):
                    return data_response(text, url)
                kind = "text/css" if name.lower().endswith(".css") else "text/html"
                if name.lower().endswith(".svg"):
                    kind = "image/svg+xml"
                return URLFetcherResponse(url, text.encode("utf-8"),
                                          {"Content-Type": f"{kind}; charset=utf-8"})
            if url.lower().startswith("data:"):
                return data_response(url, url)
            raise ValueError("documents fetch nothing from the network or the disk "
                             f"({url[:80]})")

    def data_response(uri: str, url: str) -> URLFetcherResponse:
        match = DATA_URI.match(uri)
        if match is None:
            raise ValueError("not a data: URI")
        kind, _params, b64, payload = match.groups()
        try:
            body = base64.b64decode(payload) if b64 else unquote(payload).encode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise ValueError("a data: URI that cannot be decoded") from exc
        return URLFetcherResponse(url, body, {"Content-Type": kind or "text/plain"})

    return BundleFetcher(timeout=1, allowed_protocols={"file", "data"})


def pdf(d: DocumentDef, text: str) -> bytes:
    """The PDF of the HTML `text` (the document's files at hand); RenderFailed when WeasyPrint
    cannot make it."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # the package, or Pango, is missing
        log.error("WeasyPrint cannot be loaded: %s", exc)
        raise RenderFailed(_("PDFs cannot be made on this server (WeasyPrint is not "
                             "installed).")) from exc
    try:
        data: bytes = HTML(string=text, base_url=BASE, url_fetcher=_fetcher(d.files)
                           ).write_pdf()
    except Exception as exc:  # a layout WeasyPrint cannot do is the template's problem
        log.exception("WeasyPrint failed on template %s", d.template)
        raise RenderFailed(_("Template %(template)s could not be made into a PDF: "
                             "%(problem)s", template=d.template,
                             problem=_problem(exc))) from exc
    return data
