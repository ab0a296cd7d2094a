"""What every template can use: the navigation, labels and values in the user's language."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from flask_login import current_user
from markupsafe import Markup

from app.i18n import LOCALES, format_datetime, get_locale
from app.meta.types import EntityDef, FieldDef, label_text
from app.web import format as fmt
from app.web.auth import LANGUAGE_NAMES, LanguageForm
from app.web.recordext import record_actions, record_panels
from app.web.state import may, records, state

#: entity names shown first in the navigation, in this order (the rest follow by label)
NAV_ORDER = ("account", "contact", "lead", "opportunity", "activity", "case", "campaign",
             "product", "quote")


def nav_entities() -> list[EntityDef]:
    """The entities the user may open, in menu order."""
    meta = state().meta
    if meta is None or state().models is None:
        return []
    first = [meta.entities[n] for n in NAV_ORDER if n in meta.entities]
    rest = sorted((e for e in meta if e.name not in NAV_ORDER),
                  key=lambda e: e.plural_for(get_locale()))
    return [e for e in first + rest if may(e.name)]


def label(obj: EntityDef | FieldDef | Any) -> str:
    if isinstance(obj, EntityDef | FieldDef):
        return obj.label_for(get_locale())
    return label_text(obj, get_locale(), "")


def plural(e: EntityDef) -> str:
    return e.plural_for(get_locale())


def help_text(f: FieldDef) -> str:
    return label_text(f.help, get_locale(), "")


def show(f: FieldDef, value: Any, titles: dict[int, str] | None = None) -> str | Markup:
    """A value for a page: picklists as coloured badges, the rest as locale-formatted text."""
    if f.type == "picklist" and value is not None:
        return fmt.badge(f, value)
    if f.type == "multi_picklist" and value:
        return Markup(" ").join(fmt.badge(f, v) for v in value)
    return fmt.display(f, value, currency=state().ctx.settings.currency, titles=titles,
                       meta=state().meta)


def _sharing_panel(entity: str, record_id: int) -> dict[str, Any] | None:
    from app.web.sharing import sharing_panel

    return sharing_panel(entity, record_id)


def globals_for_templates() -> dict[str, Any]:
    form = LanguageForm(formdata=None, locale=get_locale())
    return {
        "app_name": state().ctx.settings.name,
        "nav_entities": nav_entities,
        "may": may,
        "sharing_panel": _sharing_panel,
        "record_actions": record_actions,
        "record_panels": record_panels,
        "permits": lambda entity, record_id, action: records().permits(entity, record_id, action),
        "label": label,
        "plural": plural,
        "help_text": help_text,
        "show": show,
        "locale": get_locale(),
        "html_lang": "zh-CN" if get_locale() == "zh_CN" else "en",
        "locales": [(k, LANGUAGE_NAMES[k]) for k in LOCALES],
        "language_form": form,
        "user": current_user,
        "current_path": request.full_path.rstrip("?"),
        "has_endpoint": lambda name: name in current_app.view_functions,
    }


def register_filters(app: Flask) -> None:
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["datetime"] = lambda v: format_datetime(v) if v else ""
