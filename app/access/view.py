"""The config as one user sees it: every entity, without the fields they may not see, and
with the fields they may not change marked read-only. Pages, forms, lists and the API build
from this view, so a hidden field is absent everywhere without each page checking.
(Which entities they may open at all is `ActorAccess.allows(entity, "read")`.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from app.access.policy import cached_entity_access, policy_cache
from app.meta.access import ADMIN
from app.meta.types import EntityDef, Meta, freeze


def visible_meta(meta: Meta, roles: Iterable[str]) -> Meta:
    """`meta` for a user with `roles` (cached per config version and set of roles)."""
    key = tuple(sorted(set(roles)))
    if ADMIN in key:
        return meta
    cache = policy_cache(meta)
    found = cache.get(("__meta__", key))
    if found is None:
        entities = {e.name: _entity(meta, key, e) for e in meta}
        view = dataclasses.replace(meta, entities=freeze(entities))
        found = cache.setdefault(("__meta__", key), view)  # type: ignore[arg-type]
    return found  # type: ignore[return-value]


def _entity(meta: Meta, roles: tuple[str, ...], e: EntityDef) -> EntityDef:
    acc = cached_entity_access(meta, roles, e)
    if not acc.hidden and not acc.read_only:
        return e
    hidden = acc.hidden
    fields = {n: (dataclasses.replace(f, read_only=True) if n in acc.read_only else f)
              for n, f in e.fields.items() if n not in hidden}
    layout = tuple({**section, "fields": [n for n in section.get("fields", ()) if n not in hidden]}
                   for section in e.layout)
    list_view = dataclasses.replace(e.list_view, columns=tuple(
        c for c in e.list_view.columns if c not in hidden))
    views = tuple(dataclasses.replace(v, columns=tuple(c for c in v.columns if c not in hidden))
                  for v in e.views if not set(v.filters) & hidden
                  and (v.sort or "").lstrip("-") not in hidden)
    return dataclasses.replace(
        e, fields=freeze(fields), layout=freeze(list(layout)), list_view=list_view, views=views,
        title=e.title if e.title not in hidden else None,
        rules=tuple(r for r in e.rules if r.field not in hidden))
