"""The config as the signed-in admin's draft would make it, for the designer's pages.

Every designer page shows the config *with the admin's draft*: a field added in the draft is
listed (marked new), an edited one shows its new options. `working()` makes the draft's changes
on the files of its base version once per request and loads the result; when the changes cannot
be made or the result does not load, pages fall back to the live config and say why.

It also holds the raw, merged YAML of each entity and preset (presets not expanded), which is
what the forms edit: a field written `industry: {preset: industry}` is edited as that, not as the
expanded picklist.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, flash, g
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.designer import changes as ops
from app.designer.changes import Change, ChangeError
from app.designer.drafts import Draft
from app.i18n import _, ngettext
from app.meta.errors import ConfigErrors
from app.meta.files import ConfigFiles
from app.meta.loader import Merged, merge, read_documents
from app.meta.types import EntityDef, Meta
from app.web.designer_common import add_change, admin_only, author, designer
from app.web.state import state

#: where an entity or field is defined
OWN, BASE, CHANGED = "own", "base", "changed"
#: what the draft does to it
NEW, EDITED = "new", "edited"


def guard() -> ResponseReturnValue | None:
    """Before every designer request: sign in first, then administrators only (403)."""
    if not getattr(current_user, "is_authenticated", False):
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    admin_only()
    return None


def merged_of(files: ConfigFiles) -> Merged:
    """The raw entities and presets of `files`, every layer merged, presets not expanded
    (files that do not parse are left out: the draft page shows their errors)."""
    docs, _errors = read_documents(files.dirs.get("schemas", ()), files)
    found, _merge_errors = merge(docs)
    return found


@dataclass
class Working:
    draft: Draft
    #: the files of the draft's base version, and with the draft's changes made
    base: ConfigFiles
    files: ConfigFiles
    #: the candidate config (None when it does not load) and the live one
    meta: Meta | None
    live: Meta | None
    merged: Merged
    base_merged: Merged
    #: why the pages show the live config instead of the draft's
    problem: str | None = None
    #: the entities and `entity.field`s the lower layers define, and those the top one does
    _layers: tuple[set[str], set[str]] | tuple[()] = ()

    # -- entities ----------------------------------------------------------------------------
    def entity_names(self) -> list[str]:
        names = list(self.merged.entities)
        if self.meta is not None:
            names += [n for n in self.meta.entities if n not in names]
        return names

    def entity(self, name: str) -> EntityDef | None:
        """The entity as the draft makes it (else as it is live)."""
        for meta in (self.meta, self.live):
            if meta is not None and name in meta.entities:
                return meta.entities[name]
        return None

    def raw_entity(self, name: str) -> dict[str, Any] | None:
        return self.merged.entities.get(name)

    def raw_fields(self, name: str) -> dict[str, dict[str, Any]]:
        """The fields of `name` as written (merged over layers), in order, removed ones left
        out."""
        raw = (self.raw_entity(name) or {}).get("fields") or {}
        return {k: v for k, v in raw.items() if isinstance(v, dict) and not v.get("remove")}

    def raw_field(self, entity: str, name: str) -> dict[str, Any] | None:
        return self.raw_fields(entity).get(name)

    def presets(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.merged.presets.items() if isinstance(v, dict)}

    # -- where things come from and what the draft does to them -----------------------------
    def top(self) -> int:
        return self.files.top("schemas") or 0

    def origin(self, entity: str, fname: str | None = None) -> str:
        """OWN (this deployment's files only), BASE (the base pack only) or CHANGED (the base
        pack, changed in this deployment's files)."""
        if self.top() == 0:
            return OWN
        if not self._layers:
            self._layers = _layer_names(self.files, self.top())
        below, here = self._layers
        key = entity if fname is None else f"{entity}.{fname}"
        if key in below:
            return CHANGED if key in here else BASE
        return OWN

    def status(self, entity: str, fname: str | None = None) -> str | None:
        """NEW or EDITED when the draft adds or changes it, else None."""
        old = self.base_merged.entities.get(entity)
        new = self.merged.entities.get(entity)
        if fname is not None:
            old = ((old or {}).get("fields") or {}).get(fname)
            new = ((new or {}).get("fields") or {}).get(fname)
        if new is None:
            return None
        if old is None:
            return NEW
        return EDITED if _plain(old) != _plain(new) else None

    def preset_status(self, name: str) -> str | None:
        old, new = self.base_merged.presets.get(name), self.merged.presets.get(name)
        if new is None:
            return None
        if old is None:
            return NEW
        return EDITED if _plain(old) != _plain(new) else None

    def below_field(self, entity: str, fname: str) -> dict[str, Any] | None:
        """The field as the lower layers (the base pack) write it, merged; None when only
        this deployment defines it."""
        if self.top() == 0:
            return None
        lower = ConfigFiles(self.files.dirs, {k: t for k, t in self.files.texts.items()
                                              if k.kind != "schemas" or k.layer < self.top()})
        raw = ((merged_of(lower).entities.get(entity) or {}).get("fields") or {}).get(fname)
        return raw if isinstance(raw, dict) else None

    def changed_files(self, change: Change) -> ConfigFiles:
        """The draft's files with `change` made too (ChangeError when it cannot be)."""
        return ops.apply_all(self.files, [change])


def _layer_names(files: ConfigFiles, top: int) -> tuple[set[str], set[str]]:
    """The names (`entity`, `entity.field`) the layers below `top` define, and `top`'s."""
    docs, _errors = read_documents(files.dirs.get("schemas", ()), files)
    below: set[str] = set()
    here: set[str] = set()
    for doc in docs:
        ent = doc.data.get("entity")
        if not isinstance(ent, str):
            continue
        names = below if doc.layer < top else here
        names.add(ent)
        fields = doc.data.get("fields")
        names.update(f"{ent}.{f}" for f in (fields if isinstance(fields, dict) else {}))
    return below, here


def _plain(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def working() -> Working:
    """The signed-in admin's working config (made once per request)."""
    if "designer_working" not in g:
        g.designer_working = _load()
    found: Working = g.designer_working
    return found


def forget() -> None:
    """Drop this request's working config (after the draft changed)."""
    g.pop("designer_working", None)


def _load() -> Working:
    st = state()
    service = designer()
    draft = service.draft(author())
    problem = None
    with service.engine.connect() as conn:
        base = service.files_of(conn, draft.base_version)
        try:
            _base, files = service.candidate(conn, draft)
        except ChangeError as exc:
            files, problem = base, str(exc)
    meta: Meta | None = None
    if not draft.changes and draft.base_version == st.version and st.meta is not None:
        meta = st.meta
    else:
        try:
            meta = st.ctx.yaml_meta(files)
        except ConfigErrors as exc:
            problem = problem or ngettext("the changed config has %(num)s error",
                                          "the changed config has %(num)s errors",
                                          len(exc.errors))
    return Working(draft, base, files, meta, st.meta, merged_of(files), merged_of(base),
                   problem)


def _same_target(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether change `b` replaces `a` entirely (so `a` may go from the draft)."""
    if a.get("op") != b.get("op") or a.get("entity") != b.get("entity"):
        return False
    op = b.get("op")
    if op in ("order_fields", "layout"):
        return True
    if op == "field":
        return bool(a.get("field") == b.get("field"))
    if op == "preset":
        return bool(a.get("preset") == b.get("preset"))
    return False


def add(change: Change) -> bool:
    """Add `change` to the admin's draft (flashing what happened). A change that changes
    nothing is not added; one that replaces the draft's last change entirely (the same field
    edited again, the layout saved again) takes its place."""
    work = working()
    try:
        after = work.changed_files(change)
    except ChangeError as exc:
        flash(_("The change could not be made: %(why)s", why=str(exc)), "danger")
        return False
    if dict(after.texts) == dict(work.files.texts):
        flash(_("Nothing changed: your draft already says this."), "info")
        return False
    last = work.draft.changes[-1] if work.draft.changes else None
    draft = add_change(change)
    forget()
    if draft is None:
        return False
    if last is not None and _same_target(last, change) and len(draft.changes) >= 2:
        # the draft changed meanwhile: both changes stay, which is still correct
        with contextlib.suppress(ChangeError):
            designer().remove(author(), len(draft.changes) - 2)
    return True
