"""What a report definition may hold and whom an alert may tell, beyond its shape: text a
database stores, an alert's `group` keys as drill-down texts, and roles that may read a
report's records and fields (values beyond their columns: app.records.ranges). No Flask, no
database."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.i18n import _, get_locale
from app.meta.types import Meta

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_at(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """The path of the first text (a key or a value, nested anywhere) holding NUL or a lone
    surrogate (JSON's "\\ud800"), which neither database stores and no page can show; None
    when there is none."""
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return (*path, key)
            found = unstorable_at(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = unstorable_at(item, (*path, i))
            if found is not None:
                return found
    return None


def printable(part: str | int) -> str:
    """A path part with NUL and lone surrogates written as escapes (safe to show)."""
    return _UNSTORABLE.sub(lambda m: ascii(m.group())[1:-1], str(part))


def group_text(value: Any) -> str:
    """A key of an alert's `group` as the text of a drill-down key (YAML `true` is yes, `null`
    the empty group), so it is parsed by its field like one."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def unreadable_roles(meta: Meta, roles: Sequence[str], entity: str, fields: Iterable[str]
                     ) -> list[tuple[int, str]]:
    """(index, why) of each of `roles` (known to `meta`) that may not read `entity` or one of
    `fields` (hidden from it): an alert telling them would show numbers they may not see."""
    from app.access.policy import entity_access

    e = meta.entities.get(entity)
    if e is None:
        return []
    used = set(fields)
    out: list[tuple[int, str]] = []
    for i, role in enumerate(roles):
        if role not in meta.roles:
            continue
        acc = entity_access(meta, (role,), e)
        if not acc.allows("read"):
            why = _("it may not read %(entities)s", entities=e.plural_for(get_locale()))
        elif used & acc.hidden:
            why = _("%(field)s is hidden from it", field=sorted(used & acc.hidden)[0])
        else:
            continue
        out.append((i, _("Role '%(role)s' cannot be told about these numbers: %(why)s.",
                         role=role, why=why)))
    return out
