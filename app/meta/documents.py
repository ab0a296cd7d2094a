"""Document templates (`documents:` in workflows/*.yaml): a record made into a PDF from an HTML
template of the config's `documents/` folder (a feature section, app/meta/sections.py).

```yaml
documents:
  quote_pdf:
    entity: quote
    label: {en: Quote PDF, zh: 报价单 PDF}
    template: quote.html              # a file in the config's documents/ folder
    filename: "{number}.pdf"          # fields of the record, made safe for a file name
    when: "status in ['approved', 'sent', 'accepted']"   # optional: which records may have one
    lines: {entity: quote_line, via: quote, order: sort_order}   # child rows for the template
    currency: currency                # optional: the field holding the money's currency code
```

The template folders are `documents:` of each config.yaml in the `extends:` chain (default
`documents/` beside it, when that exists; an overlay's file of the same name wins), and after
them the templates shipped with the CRM (`documents/` of its own folder). The template's TEXT,
with every file of those folders whose name it mentions (templates it includes, CSS, a logo),
is stored with each config version: a version is self-contained, a document is rendered as the
version said, and promoting a version carries its templates. Changing a template changes the
config's digest, so `crm migrate` publishes it.

Templates are Jinja, compiled here in the same sandbox the documents are rendered in
(app/documents/render.py). Problems are `ConfigError`s with file and line:

| code | meaning |
|---|---|
| CRM-E127 | a document names an unknown entity (`entity`, `lines.entity`) |
| CRM-E128 | the template file is missing, unreadable, not a plain file name, or too large |
| CRM-E129 | the template (or a template it includes) does not compile (its file:line) |
| CRM-E130 | `when` is not an expression of the entity's fields |
| CRM-E131 | `lines.via`, `lines.order`, `currency` or a `{field}` of `filename` does not fit |
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.meta.errors import ConfigError
from app.meta.types import IDENTIFIER, EntityDef, Labels, Meta, Source, freeze

#: the templates shipped with the CRM: found after the config's own folders
SHIPPED = Path(__file__).resolve().parents[2] / "documents"
#: a file of a documents folder: letters, digits, _ . - (no folders, no hidden files)
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,80}$")
#: files kept as text (templates and stylesheets); others are kept as data: URIs
TEXT_SUFFIXES = (".html", ".htm", ".css", ".svg", ".txt")
TEMPLATE_SUFFIXES = (".html", ".htm")
#: what a template may bundle besides text files (images and fonts)
BINARY_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".ttf", ".otf", ".woff", ".woff2")
#: the largest file, and all the files of one document together, in bytes
MAX_FILE = 1024 * 1024
MAX_BUNDLE = 2 * 1024 * 1024
FIELD_REF = re.compile(r"\{([^{}]*)\}")
LINKS = ("lookup", "master_detail")

_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "entity": _NAME,
        "label": {"type": "object", "additionalProperties": {"type": "string"}},
        "template": {"type": "string", "minLength": 1, "maxLength": 80},
        "filename": {"type": "string", "minLength": 1, "maxLength": 200},
        "when": {"type": "string", "minLength": 1},
        "lines": {"type": "object", "additionalProperties": False, "required": ["entity", "via"],
                  "properties": {"entity": _NAME, "via": _NAME, "order": _NAME}},
        "currency": _NAME,
        "remove": {"const": True},
    },
}


@dataclass(frozen=True)
class LinesDef:
    """The child rows a document lists (quote lines): `entity` records whose lookup `via`
    points at the record, sorted by `order` (then by id)."""

    entity: str
    via: str
    order: str | None = None


@dataclass(frozen=True)
class DocumentDef:
    """One entry of `documents:`: what to render for which records."""

    name: str
    entity: str
    template: str
    label: Labels = field(default_factory=dict)
    filename: str | None = None
    when: str | None = None
    lines: LinesDef | None = None
    currency: str | None = None
    #: file name -> text (templates, CSS) or a data: URI (images, fonts): the template and
    #: every file it mentions, as the config version holds them
    files: Mapping[str, str] = field(default_factory=dict)
    source: Source = field(default_factory=lambda: Source(""))


# --- where the templates are ---------------------------------------------------------------
_DIRS: ContextVar[tuple[Path, ...] | None] = ContextVar("crm_document_dirs", default=None)


@contextmanager
def template_dirs(dirs: Sequence[Path]) -> Iterator[None]:
    """Read templates from `dirs` (the settings' `document_dirs`, base first) while loading a
    config in this block. Without it, the folder `documents/` beside each workflows folder."""
    token = _DIRS.set(tuple(dirs))
    try:
        yield
    finally:
        _DIRS.reset(token)


def search_dirs(workflows_file: str) -> list[Path]:
    """The folders a template is looked for in, the one that wins first."""
    given = _DIRS.get()
    if given is None:
        given = (Path(workflows_file).resolve().parent.parent / "documents",)
    found = [d for d in reversed(given) if d.is_dir()]
    if SHIPPED.is_dir() and SHIPPED.resolve() not in {d.resolve() for d in found}:
        found.append(SHIPPED)
    return found


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _files_of(dirs: Sequence[Path]) -> dict[str, Path]:
    """File name -> its path, over `dirs` (the first folder holding a name wins)."""
    out: dict[str, Path] = {}
    for folder in dirs:
        for path in sorted(folder.iterdir()):
            if path.is_file() and FILE_NAME.match(path.name) and ".." not in path.name \
                    and path.suffix.lower() in (*TEXT_SUFFIXES, *BINARY_SUFFIXES):
                out.setdefault(path.name, path)
    return out


def _read(path: Path) -> str:
    """A file as the config version keeps it (text, or a data: URI); OSError / ValueError."""
    if path.stat().st_size > MAX_FILE:
        raise ValueError(f"{path.name} is larger than {MAX_FILE // 1024} KB")
    if path.suffix.lower() in TEXT_SUFFIXES:
        return path.read_text(encoding="utf-8")
    kind = mimetypes.guess_type(path.name, strict=False)[0] or "application/octet-stream"
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def bundle(template: str, dirs: Sequence[Path]) -> tuple[dict[str, str], dict[str, Path]]:
    """The template and every file of `dirs` its texts mention (by name, again and again: an
    included template's stylesheet comes too): name -> stored text, and name -> path.
    Raises FileNotFoundError, OSError, UnicodeDecodeError or ValueError (too large)."""
    available = _files_of(dirs)
    if template not in available:
        raise FileNotFoundError(template)
    files: dict[str, str] = {}
    paths: dict[str, Path] = {}
    todo = [template]
    while todo:
        name = todo.pop()
        if name in files:
            continue
        files[name] = _read(available[name])
        paths[name] = available[name]
        if sum(len(t) for t in files.values()) > MAX_BUNDLE:
            raise ValueError(f"the template and its files are larger than "
                             f"{MAX_BUNDLE // 1024 // 1024} MB together")
        if name.lower().endswith(TEXT_SUFFIXES):
            todo += [other for other in available if other not in files
                     and other in files[name]]
    return files, paths


# --- the sandbox ----------------------------------------------------------------------------
class BundleLoader(BaseLoader):
    """Templates by name from a document's files (each frame of an error names its file)."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = files

    def get_source(self, environment: Any, template: str
                   ) -> tuple[str, str | None, Callable[[], bool] | None]:
        text = self.files.get(template)
        if text is None or not template.lower().endswith(TEMPLATE_SUFFIXES):
            raise TemplateNotFound(template)
        return text, template, lambda: True


#: the filters a template may use besides Jinja's own (app/documents/render.py: money, number,
#: date and datetime in the user's locale, cn_upper for an amount in Chinese capital numerals,
#: dec for a number as a Decimal)
FILTERS = ("money", "number", "date", "datetime", "cn_upper", "dec")


def _unset(value: Any, *args: Any) -> str:
    return str(value)


def environment(files: Mapping[str, str]) -> ImmutableSandboxedEnvironment:
    """The sandbox templates compile and render in: no attribute starting with `_`, no
    changing of lists or dicts, HTML escaped, includes only of the document's own files.
    The FILTERS are placeholders here (a template compiles); rendering sets them."""
    env = ImmutableSandboxedEnvironment(loader=BundleLoader(files), autoescape=True,
                                        trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters.update(dict.fromkeys(FILTERS, _unset))
    return env


# --- checks -------------------------------------------------------------------------------
class _Checker:
    def __init__(self, name: str, doc: Any, errors: list[ConfigError]) -> None:
        self.what = f"document '{name}'"
        self.doc = doc
        self.base = ("documents", name)
        self.errors = errors

    def at(self, *path: str) -> Source:
        at: Source = self.doc.positions.at((*self.base, *path))
        return at

    def error(self, code: str, message: str, *path: str) -> None:
        self.errors.append(ConfigError(code, f"{self.what}: {message}", self.at(*path)))


def _hint(name: str, options: Any) -> str:
    from app.meta.checks import _hint as hint

    return hint(name, options)


def _entity(ck: _Checker, meta: Meta, name: str, *path: str) -> EntityDef | None:
    e = meta.entities.get(name)
    if e is None:
        ck.error("CRM-E127", f"there is no entity '{name}'{_hint(name, meta.entities)}", *path)
    return e


def _template(ck: _Checker, name: str) -> dict[str, str] | None:
    if not FILE_NAME.match(name) or ".." in name or not name.lower().endswith(TEMPLATE_SUFFIXES):
        ck.error("CRM-E128", f"template '{name}' must be the name of an .html file of the "
                             "documents folder (no folders)", "template")
        return None
    dirs = search_dirs(ck.doc.file)
    try:
        files, paths = bundle(name, dirs)
    except FileNotFoundError:
        where = ", ".join(_display(d) for d in dirs) or "no documents folder exists"
        ck.error("CRM-E128", f"there is no template '{name}' (looked in {where})", "template")
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        ck.error("CRM-E128", f"template '{name}' cannot be used: {exc}", "template")
        return None
    problem = syntax_error(tuple(sorted(files.items())))
    if problem is not None:
        fname, line, message = problem
        ck.errors.append(ConfigError(
            "CRM-E129", f"{ck.what}: template {fname} does not compile: {message}",
            Source(_display(paths[fname]), line, 1)))
        return None
    return files


@lru_cache(maxsize=32)
def syntax_error(files: tuple[tuple[str, str], ...]) -> tuple[str, int, str] | None:
    """(file, line, message) of the first template of `files` that does not compile, or None
    (remembered per text: the config is loaded again and again with the same templates)."""
    env = environment(dict(files))
    for fname, _text in files:
        if not fname.lower().endswith(TEMPLATE_SUFFIXES):
            continue
        try:
            env.get_template(fname)
        except TemplateSyntaxError as exc:
            return fname, exc.lineno or 0, str(exc.message)
    return None


def _field(ck: _Checker, e: EntityDef, name: str, what: str, *path: str) -> bool:
    if name not in e.fields:
        ck.error("CRM-E131", f"{what}: {e.name} has no field '{name}'{_hint(name, e.fields)}",
                 *path)
        return False
    return True


def _lines(ck: _Checker, meta: Meta, raw: Mapping[str, Any], entity: EntityDef
           ) -> LinesDef | None:
    child = _entity(ck, meta, str(raw["entity"]), "lines", "entity")
    if child is None:
        return None
    via, order = str(raw["via"]), raw.get("order")
    ok = _field(ck, child, via, "lines.via", "lines", "via")
    if ok and (child.fields[via].type not in LINKS
               or child.fields[via].opt("to") != entity.name):
        ck.error("CRM-E131", f"lines.via: {child.name}.{via} is not a lookup to {entity.name}",
                 "lines", "via")
        ok = False
    if order is not None:
        ok = _field(ck, child, str(order), "lines.order", "lines", "order") and ok
    return LinesDef(child.name, via, str(order) if order else None) if ok else None


def _document(name: str, body: dict[str, Any], doc: Any, meta: Meta,
              errors: list[ConfigError]) -> DocumentDef | None:
    from app.fields import registry
    from app.meta.checks import check_expression, expr_kinds

    ck = _Checker(name, doc, errors)
    missing = [k for k in ("entity", "template") if k not in body]
    for key in missing:
        errors.append(ConfigError("CRM-E012", f"{ck.what} needs `{key}`", ck.at()))
    if missing:
        return None
    e = _entity(ck, meta, str(body["entity"]), "entity")
    files = _template(ck, str(body["template"]))
    if e is None:
        return None
    ok = files is not None
    when = body.get("when")
    if when:
        errs, _names = check_expression("when", str(when), expr_kinds(e, registry),
                                        ck.at("when"))
        for err in errs:
            ck.error("CRM-E130", err.message, "when")
        ok = ok and not errs
    lines = _lines(ck, meta, body["lines"], e) if body.get("lines") else None
    ok = ok and (lines is not None or not body.get("lines"))
    filename = body.get("filename")
    for ref in FIELD_REF.findall(str(filename or "")):
        ok = _field(ck, e, ref.strip(), "filename", "filename") and ok
    currency = body.get("currency")
    if currency is not None:
        ok = _field(ck, e, str(currency), "currency", "currency") and ok
    elif "currency" in e.fields and e.fields["currency"].type == "picklist":
        currency = "currency"
    if not ok or files is None:
        return None
    return DocumentDef(name=name, entity=e.name, template=str(body["template"]),
                       label=freeze(dict(body.get("label") or {})),
                       filename=str(filename) if filename else None,
                       when=str(when) if when else None, lines=lines,
                       currency=str(currency) if currency else None, files=freeze(files),
                       source=ck.at())


def check(merged: dict[str, tuple[dict[str, Any], Any]], meta: Meta,
          errors: list[ConfigError]) -> dict[str, DocumentDef]:
    """The merged `documents:` bodies (name -> (body, document)) checked against `meta`."""
    out: dict[str, DocumentDef] = {}
    for name, (body, doc) in merged.items():
        found = _document(name, body, doc, meta, errors)
        if found is not None:
            out[name] = found
    return out


# --- snapshot -----------------------------------------------------------------------------
def to_dict(defs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in defs.values():
        body: dict[str, Any] = {"entity": d.entity, "template": d.template,
                                "files": dict(d.files)}
        if d.label:
            body["label"] = dict(d.label)
        if d.filename:
            body["filename"] = d.filename
        if d.when:
            body["when"] = d.when
        if d.lines is not None:
            body["lines"] = {"entity": d.lines.entity, "via": d.lines.via}
            if d.lines.order:
                body["lines"]["order"] = d.lines.order
        if d.currency:
            body["currency"] = d.currency
        out[d.name] = body
    return out


def from_dict(data: Mapping[str, Any], src: Source) -> dict[str, Any]:
    out: dict[str, DocumentDef] = {}
    for name, d in data.items():
        lines = d.get("lines")
        out[name] = DocumentDef(
            name=name, entity=d["entity"], template=d["template"],
            label=freeze(dict(d.get("label") or {})), filename=d.get("filename"),
            when=d.get("when"), currency=d.get("currency"),
            lines=LinesDef(lines["entity"], lines["via"], lines.get("order"))
            if lines else None,
            files=freeze(dict(d.get("files") or {})), source=src)
    return out
