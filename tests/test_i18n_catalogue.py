"""The translation catalogues are complete and current.

Every string marked in the code and the templates (extracted here in-process with Babel, with the
method map of babel.cfg, exactly as `make messages` does) has a non-empty, non-fuzzy translation
in each UI locale's catalogue; translations keep the `%(name)s` placeholders of their msgid; and
the compiled .mo says the same as its .po. When this fails after you added strings: run
`make messages`, translate the new entries in the .po, then `make translations` (docs/i18n.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from app.i18n import DEFAULT_LOCALE, LOCALES, TRANSLATIONS

ROOT = Path(__file__).resolve().parent.parent
UI_LOCALES = [loc for loc in LOCALES if loc != DEFAULT_LOCALE]
#: a printf placeholder: `%(name)s`, `%(num)d`, `%(rate).1f`
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifrx]")

MsgId = str | tuple[str, ...]


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def load_po(locale: str) -> Catalog:
    with po_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale)


def extracted() -> dict[MsgId, list[str]]:
    """Every marked msgid in the app -> where it is (`path:line`), found as babel.cfg says."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    found: dict[MsgId, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        msgid: MsgId = message if isinstance(message, str) else tuple(message)
        found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def marked() -> dict[MsgId, list[str]]:
    return extracted()


def strings(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def stray_percents(text: str) -> int:
    """Percent signs that are neither a placeholder nor an escaped `%%`."""
    return PLACEHOLDER.sub("", text).replace("%%", "").count("%")


def translated(message: Message | None) -> bool:
    return (message is not None and not message.fuzzy
            and all(s.strip() for s in strings(message.string)) and bool(message.string))


def test_every_ui_locale_has_a_catalogue() -> None:
    assert UI_LOCALES, "app.i18n.LOCALES lists no language besides the default"
    for locale in UI_LOCALES:
        assert po_path(locale).is_file(), f"{po_path(locale)} is missing: run `make messages`"
        assert po_path(locale).with_suffix(".mo").is_file(), "run `make translations`"


def test_extraction_finds_code_and_templates(marked: dict[MsgId, list[str]]) -> None:
    """A guard on babel.cfg: a broken pattern would extract nothing and pass everything."""
    places = [p.replace("\\", "/") for where in marked.values() for p in where]
    assert any(p.startswith("app/fields/") and ".py:" in p for p in places)
    assert any(p.startswith("app/web/") and ".py:" in p for p in places)
    assert any(re.search(r"templates/.+\.html:\d+$", p) for p in places)
    assert "%(field)s is required." in marked
    assert "Sign in" in marked  # from a template: {{ _('Sign in') }}


@pytest.mark.parametrize("locale", UI_LOCALES)
def test_every_marked_string_is_translated(locale: str, marked: dict[MsgId, list[str]]) -> None:
    catalog = load_po(locale)
    missing = []
    for msgid, where in marked.items():
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        if not translated(catalog.get(key)):
            missing.append(f"  {key!r}  ({', '.join(where[:3])})")
    assert not missing, (
        f"{len(missing)} user-visible string(s) have no {locale} translation (or a fuzzy one); "
        f"run `make messages`, translate them in {po_path(locale).relative_to(ROOT)}, then "
        "`make translations`:\n" + "\n".join(sorted(missing))
    )


@pytest.mark.parametrize("locale", UI_LOCALES)
def test_catalogue_has_no_fuzzy_or_empty_entries(locale: str) -> None:
    catalog = load_po(locale)
    assert not catalog.fuzzy, "the catalogue header is marked fuzzy"
    bad = [m.id for m in catalog if m.id and not translated(m)]
    assert not bad, f"fuzzy or untranslated entries in the {locale} catalogue: {bad}"


@pytest.mark.parametrize("locale", UI_LOCALES)
def test_translations_keep_placeholders(locale: str) -> None:
    problems = []
    for message in load_po(locale):
        if not message.id or not message.string:
            continue
        ids = strings(message.id)
        wanted = set().union(*(placeholders(i) for i in ids))
        dummy = dict.fromkeys(wanted | {"num"}, 1)
        for text in strings(message.string):
            if placeholders(text) != wanted:
                problems.append(f"{ids[0]!r}: {text!r} has {sorted(placeholders(text))}, "
                                f"expected {sorted(wanted)}")
            elif stray_percents(text) != stray_percents(ids[0]):
                problems.append(f"{ids[0]!r}: {text!r} has a stray '%' (write '%%')")
            elif wanted:
                try:
                    text % dummy
                except (KeyError, TypeError, ValueError) as exc:
                    problems.append(f"{ids[0]!r}: {text!r} does not format: {exc}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", UI_LOCALES)
def test_compiled_catalogue_is_current(locale: str) -> None:
    """The tracked .mo is what `make translations` would write from the .po today."""
    fresh = BytesIO()
    write_mo(fresh, load_po(locale))
    fresh.seek(0)
    with po_path(locale).with_suffix(".mo").open("rb") as fh:
        shipped = read_mo(fh)

    def entries(catalog: Catalog) -> dict[MsgId, MsgId]:
        return {(m.id if isinstance(m.id, str) else tuple(m.id)):
                (m.string if isinstance(m.string, str) else tuple(strings(m.string)))
                for m in catalog if m.id}

    expected, actual = entries(read_mo(fresh)), entries(shipped)
    stale = sorted(str(k) for k in expected.keys() ^ actual.keys()) + sorted(
        str(k) for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    assert not stale, (f"{po_path(locale).with_suffix('.mo').name} is out of date for "
                       f"{len(stale)} message(s), e.g. {stale[:5]}: run `make translations`")
