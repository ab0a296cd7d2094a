"""The back office's "Access explain" page: pick a user, an entity, optionally a field and a
record id, and see why they can or cannot do each action (app/access/explain.py, the same
answer as `crm access explain`). A GET form: it changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import request
from flask_admin import BaseView, expose

from app.access.explain import ExplainError, Explanation, explain
from app.admin.common import AdminAccess, Lazy
from app.i18n import N_, _, get_locale
from app.meta.access import ACTIONS
from app.meta.errors import ConfigErrors
from app.meta.types import Meta
from app.model.system import users
from app.plugins import PluginError
from app.web.state import records, state

#: what a verdict word means, in the user's language (scopes are shown as written in YAML)
VERDICTS = {
    "yes": N_("Yes"), "no": N_("No"), "visible": N_("Visible"), "hidden": N_("Hidden"),
    "read_only": N_("Read-only"), "no_access": N_("No access"),
}
ACTION_LABELS = {
    "create": N_("Create"), "read": N_("Read"), "edit": N_("Edit"), "delete": N_("Delete"),
    "export": N_("Export"), "import": N_("Import"), "merge": N_("Merge"),
}


#: the YAML files' config, by their names, sizes and times (loading it takes a moment)
_LOADED: dict[tuple[Any, ...], Meta | None] = {}


def _stamp() -> tuple[Any, ...]:
    settings = state().ctx.settings
    out: list[Any] = [str(settings.config_file)]
    for folder in (*settings.schema_dirs, *settings.workflow_dirs):
        for path in sorted(Path(folder).rglob("*.y*ml")):
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def _sources() -> Meta | None:
    """The config as the YAML files say (to name files and lines), if they load."""
    try:
        key = _stamp()
        if key not in _LOADED:
            _LOADED.clear()
            _LOADED[key] = state().ctx.yaml_meta()
        return _LOADED.get(key)
    except (ConfigErrors, PluginError, OSError):  # a broken file costs only the line numbers
        return None


class AccessExplainView(AdminAccess, BaseView):
    """Why can('t) a user do this? One form, one explanation."""

    def __init__(self, category: Lazy) -> None:
        super().__init__(name=Lazy(lambda: _("Access explain")), category=category,
                         endpoint="admin_sys_access", url="/admin/system/access")

    @expose("/")
    def index(self) -> Any:
        meta = state().meta
        with state().ctx.engine.connect() as conn:
            people = [(r.username, r.full_name or "", bool(r.active)) for r in conn.execute(
                sa.select(users.c.username, users.c.full_name, users.c.active)
                .order_by(users.c.username))]
        entities = sorted(((e.name, e.label_for(get_locale())) for e in meta or ()),
                          key=lambda pair: pair[1])
        args = request.args
        form = {k: (args.get(k) or "").strip() for k in ("user", "entity", "field", "record")}
        result: Explanation | None = None
        error: str | None = None
        status = 200
        if form["user"] and form["entity"]:
            record_id: int | None = None
            if form["record"]:
                try:
                    record_id = int(form["record"])
                except ValueError:
                    error = _("Record id: '%(value)s' is not a whole number.",
                              value=form["record"])
                    status = 400
            if error is None:
                try:
                    result = explain(records(), form["user"], form["entity"],
                                     form["field"] or None, record_id, sources=_sources(),
                                     base=Path(state().ctx.settings.config_file).parent)
                except ExplainError as exc:
                    error, status = str(exc), 404
        elif any(form.values()):
            error, status = _("Choose a user and an entity."), 400
        html = self.render("crm_admin/access_explain.html", people=people, entities=entities,
                           form=form, result=result, error=error, actions=ACTIONS,
                           verdict_label=_verdict_label, action_label=_action_label,
                           fields=_fields(meta, form["entity"]))
        return html, status


def _verdict_label(word: str) -> str:
    return _(VERDICTS[word]) if word in VERDICTS else word


def _action_label(action: str) -> str:
    return _(ACTION_LABELS[action]) if action in ACTION_LABELS else action


def _fields(meta: Meta | None, entity: str) -> list[tuple[str, str]]:
    e = meta.entities.get(entity) if meta is not None else None
    if e is None:
        return []
    return [(f.name, f.label_for(get_locale())) for f in e]
