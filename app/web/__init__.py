"""The web app of one config version: generated pages for every entity, in English or Chinese.

`create_app` builds a Flask app for one version's metadata and models; `app.runtime.Runtime`
rebuilds it when a new version is published. Views are thin: they call the records service
(`app.web.state.records()`), never the entity tables.
"""

from __future__ import annotations

from typing import Any

import pluggy
from flask import Flask, abort, request, session
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from app import i18n
from app.context import Context
from app.meta.types import Meta
from app.model.build import Models
from app.web import auth, errors, health, home, imports, security, tokens
from app.web.routing import CrmFlask
from app.web.state import WebState


def create_app(ctx: Context, *, meta: Meta | None = None, models: Models | None = None,
               version: int | None = None, plugins: pluggy.PluginManager | None = None,
               testing: bool = False) -> Flask:
    """The Flask app for one config version. Without `meta`, the active version is read."""
    if meta is None and models is None:
        from app.migrate.publish import active_version
        from app.model.build import build_models

        with ctx.engine.connect() as conn:
            version, meta = active_version(conn)
        models = build_models(meta) if meta is not None else None
    ctx.settings.warn_if_insecure()
    ctx.queue  # noqa: B018  (made now, so saves enqueue their webhooks and automations at once)
    app = CrmFlask(__name__)
    app.config.update(
        SECRET_KEY=ctx.settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=ctx.settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=ctx.settings.secure_cookies,
        BOOTSTRAP_SERVE_LOCAL=True,
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
        TESTING=testing,
    )
    app.extensions["crm"] = WebState(ctx, meta, models, version,
                                     plugins if plugins is not None else ctx.plugins)
    CSRFProtect(app)
    security.install(app, hsts=ctx.settings.secure_cookies)
    Bootstrap5(app)
    auth.init_login(app)
    limiter = Limiter(get_remote_address, app=app, storage_uri=ctx.settings.rate_limit_storage,
                      default_limits=[], headers_enabled=True)
    _setup_i18n(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(tokens.bp)
    app.register_blueprint(imports.bp)
    from app.api import docs as api_docs
    from app.api import init_api

    app.register_blueprint(api_docs.bp)
    init_api(app, limiter)
    errors.register(app)
    _register_pages(app, app.extensions["crm"].plugins)
    login_view: Any = app.view_functions["auth.login"]
    app.view_functions["auth.login"] = limiter.limit(
        ctx.settings.login_rate_limit, methods=["POST"])(login_view)
    return app


def _register_pages(app: Flask, plugins: pluggy.PluginManager) -> None:
    """The pages of every plugin's `crm_web_blueprints`: the generated pages (lists, forms,
    detail pages, boards, search: the built-in plugin `app.web.pages`) and plugins' own;
    then the flask-admin back office."""
    from flask import Blueprint

    from app.plugins import PluginError, collect

    for name, bp in collect(plugins, "crm_web_blueprints", Blueprint):
        try:
            app.register_blueprint(bp)
        except ValueError as exc:  # a blueprint name taken by another plugin
            raise PluginError(f"plugin {name!r}: blueprint {bp.name!r} cannot be added: "
                              f"{exc}") from exc
    from app.admin import init_admin

    init_admin(app)


def _setup_i18n(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # newstyle: Jinja fills the %(name)s placeholders itself after the lookup
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s: i18n.translations(i18n.get_locale()).gettext(s),
        lambda s, p, n: i18n.translations(i18n.get_locale()).ngettext(s, p, n), newstyle=True)

    @app.before_request
    def choose_locale() -> None:
        i18n.set_locale(pick_locale())

    @app.before_request
    def ids_in_range() -> None:
        """`<int:id>` admits any size; ids beyond a 32-bit integer cannot exist (and
        PostgreSQL would refuse to compare them): 404, not 500."""
        for value in (request.view_args or {}).values():
            if isinstance(value, int) and not 0 <= value <= 2**31 - 1:
                abort(404)

    @app.context_processor
    def template_globals() -> dict[str, Any]:
        from app.web import templating

        return templating.globals_for_templates()

    from app.web import templating

    templating.register_filters(app)


def pick_locale() -> str:
    """The user's saved language, else the session's choice, else the browser's, else the
    deployment's default."""
    user: Any = current_user
    if getattr(user, "is_authenticated", False) and getattr(user, "locale", None):
        return str(user.locale)
    if session.get("locale"):
        return str(session["locale"])
    best = request.accept_languages.best_match(["en", "zh_CN", "zh"])
    if best:
        return best
    from app.web.state import state

    return state().ctx.settings.locale
