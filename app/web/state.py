"""Per-app and per-request state of the web layer: the config version it serves, the records
service, and who is signed in. Views call these helpers instead of reaching into globals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pluggy
from flask import abort, current_app, g
from flask_login import current_user

from app.context import Context
from app.meta.types import EntityDef, Meta
from app.model.build import Models
from app.records import Actor, Records


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
    st = state()
    if st.meta is None:
        abort(503)
    return st.meta


def records() -> Records:
    """The records service for this request (one per request, sharing the version's models)."""
    if "crm_records" not in g:
        st = state()
        if st.models is None:
            abort(503)
        g.crm_records = Records(st.ctx.engine, st.models, plugins=st.plugins)
    rec: Records = g.crm_records
    return rec


def actor(user: Any = None) -> Actor:
    """Who is acting: `user` (the API's token user), else the signed-in user, in the
    request's locale."""
    from app.i18n import get_locale

    user = current_user if user is None else user
    return Actor(int(user.id), user.username, tuple(user.roles), get_locale())


def entity_or_404(name: str) -> EntityDef:
    e = meta().entities.get(name)
    if e is None:
        abort(404)
    return e
