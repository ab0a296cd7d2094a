"""Per-app and per-request state of the web layer: the config version it serves, the records
service, and who is signed in. Views call these helpers instead of reaching into globals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pluggy
from flask import abort, current_app, g
from flask_login import current_user

from app.access.view import visible_meta
from app.context import Context
from app.meta.types import EntityDef, Meta
from app.model.build import Models
from app.records import Actor, Records
from app.records.change import ANONYMOUS


@dataclass(frozen=True)
class WebState:
    """What one Flask app (one config version) serves; `app.extensions["crm"]`."""

    ctx: Context
    meta: Meta | None
    models: Models | None
    version: int | None
    plugins: pluggy.PluginManager


def state() -> WebState:
    st: WebState = current_app.extensions["crm"]
    return st


def meta() -> Meta:
    """The config as the request's user sees it (without fields hidden from them)."""
    st = state()
    if st.meta is None:
        abort(503)
    who = actor()
    if who.is_system:
        return st.meta
    return visible_meta(st.meta, who.roles)


def may(entity: str, action: str = "read") -> bool:
    """Whether the request's user may `action` (create, read, edit, delete, export, import)
    records of `entity` at all."""
    return records().access().allows(entity, action)


def records() -> Records:
    """The records service for this request (one per request, sharing the version's models),
    reading as the request's user: what they may not see is not there."""
    if "crm_records" not in g:
        st = state()
        if st.models is None:
            abort(503)
        g.crm_records = Records(st.ctx.engine, st.models, plugins=st.plugins, actor=actor())
    rec: Records = g.crm_records
    return rec


def actor(user: Any = None) -> Actor:
    """Who is acting: `user`, else the API's token user, else the signed-in user, in the
    request's locale (nobody signed in: an actor with no role, who may do nothing)."""
    from app.i18n import get_locale

    if user is None:
        user = g.get("api_user") or current_user
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    return Actor(int(user.id), user.username, tuple(user.roles), get_locale())


def entity_or_404(name: str) -> EntityDef:
    """The entity as the user sees it; 404 when there is none, 403 (Forbidden, with the
    reason) when they may see none of its records."""
    e = meta().entities.get(name)
    if e is None:
        abort(404)
    records().readable(name)
    return e
