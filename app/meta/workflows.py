"""Webhooks and automations from the workflow folders (`workflows:` in config.yaml).

```yaml
webhooks:
  erp_sync:
    url_env: CRM_ERP_WEBHOOK_URL          # or url: https://...
    secret_env: CRM_ERP_WEBHOOK_SECRET
    events: [opportunity.created, opportunity.transition, account.*]
    fields: [name, amount, stage]
automations:
  big_deal_won:
    entity: opportunity
    events: [transition]
    when: "stage == 'won' and amount >= 100000"
    actions:
      - call_webhook: {url_env: CRM_DEALS_URL, body: "{name} won"}
```

Folders are read base layer first, like schemas; a later layer's webhook or automation of the
same name changes it key by key, and `remove: true` drops it. Files named `*.example.yaml` are
skipped. Every problem is a `ConfigError` with file, line and a code (CRM-E060..E068, and the
expression codes for `when`). A layer that sets `url` drops the earlier `url_env` (and the
other way round). Every string parameter of an action is a text template: `{field}` names only
(`app.actions.check_template`, CRM-E068). The result goes on `Meta.webhooks` / `Meta.automations`.
Stage machines (`stages:`) are read and merged the same way and checked by app/meta/stages.py
(`Meta.stages`), conversions (`conversions:`) by app/meta/conversions.py (`Meta.conversions`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from app.meta.approvals import APPROVAL_SCHEMA, ESCALATION_SCHEMA
from app.meta.checks import _hint
from app.meta.conversions import CONVERSION_SCHEMA
from app.meta.errors import ConfigError
from app.meta.files import ConfigFiles
from app.meta.sections import FEATURE_SECTIONS, section_module
from app.meta.stages import STAGE_SCHEMA
from app.meta.types import (
    IDENTIFIER,
    RECORD_EVENTS,
    ActionRef,
    AutomationDef,
    Meta,
    Source,
    WebhookDef,
    freeze,
)

#: top-level keys a workflows file may hold
#: the built-in sections; feature sections (app/meta/sections.py) come after them
BUILTIN_KINDS = ("webhooks", "automations", "stages", "conversions", "approvals", "escalations")
KINDS = (*BUILTIN_KINDS, *FEATURE_SECTIONS)
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
_ENV = {"type": "string", "pattern": ENV_NAME.pattern}
_WEBHOOK = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "minLength": 1},
        "url_env": _ENV,
        "secret_env": _ENV,
        "events": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "fields": {"type": "array", "items": _NAME},
        "active": {"type": "boolean"},
        "remove": {"const": True},
    },
}
_AUTOMATION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "entity": _NAME,
        "events": {"type": "array", "minItems": 1, "items": {"enum": list(RECORD_EVENTS)}},
        "when": {"type": "string", "minLength": 1},
        "actions": {"type": "array", "minItems": 1, "items": {
            "type": "object", "minProperties": 1, "maxProperties": 1,
            "additionalProperties": {"type": ["object", "null"]}}},
        "active": {"type": "boolean"},
        "remove": {"const": True},
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "CRM workflows file",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "webhooks": {"type": "object", "propertyNames": _NAME,
                     "additionalProperties": _WEBHOOK},
        "automations": {"type": "object", "propertyNames": _NAME,
                        "additionalProperties": _AUTOMATION},
        "stages": {"type": "object", "propertyNames": _NAME,
                   "additionalProperties": STAGE_SCHEMA},
        "conversions": {"type": "object", "propertyNames": _NAME,
                        "additionalProperties": CONVERSION_SCHEMA},
        "approvals": {"type": "object", "propertyNames": _NAME,
                      "additionalProperties": APPROVAL_SCHEMA},
        "escalations": {"type": "object", "propertyNames": _NAME,
                        "additionalProperties": ESCALATION_SCHEMA},
    },
}


def _schema() -> dict[str, Any]:
    """SCHEMA with the feature sections' entries (their modules are imported here, late)."""
    props = dict(SCHEMA["properties"])
    for section in FEATURE_SECTIONS:
        props[section] = {"type": "object", "propertyNames": _NAME,
                          "additionalProperties": section_module(section).SCHEMA}
    return {**SCHEMA, "properties": props}


def _builtin_actions() -> None:
    """Register the built-in actions before params are checked (they register on import)."""
    import app.events.actions
    import app.surveys.action  # noqa: F401  (send_survey)


def load_workflows(dirs: Sequence[Path], meta: Meta, files: ConfigFiles | None = None,
                   ) -> tuple[dict[str, dict[str, Any]], list[ConfigError]]:
    """Read every workflows folder, merge by name and check against `meta`'s entities: the
    Meta fields (webhooks, automations, stages, conversions, approvals, escalations; only
    those something defines) and the problems found."""
    from app.meta.approvals import check_approvals, check_escalations
    from app.meta.conversions import check_conversions
    from app.meta.loader import Document, _schema_errors, yaml_files
    from app.meta.stages import check_stages

    kinds = (*BUILTIN_KINDS, *FEATURE_SECTIONS)
    errors: list[ConfigError] = []
    docs: list[Document] = []
    for layer, name, data, positions, _broken in yaml_files(
            dirs, "workflows", errors, skip=lambda path: ".example." in path.name,
            files=files):
        if data is None:
            continue  # an empty file holds nothing (or a syntax error was reported)
        if not isinstance(data, dict) or not set(kinds) & set(data):
            errors.append(ConfigError(
                "CRM-E060", "a workflows file must hold one of "
                + ", ".join(f"`{k}:`" for k in kinds),
                positions.at(())))
            continue
        docs.append(Document(name, data, positions, layer))
    validator = jsonschema.Draft202012Validator(_schema())
    merged: dict[str, dict[str, tuple[dict[str, Any], Document]]] = {k: {} for k in kinds}
    seen: dict[tuple[str, int, str], Source] = {}
    for doc in docs:
        errs = _schema_errors(doc, validator)
        errors.extend(errs)
        if errs:
            continue
        for kind in kinds:
            for name, spec in (doc.data.get(kind) or {}).items():
                src = doc.positions.at((kind, name))
                first = seen.get((kind, doc.layer, name))
                if first is not None:
                    errors.append(ConfigError("CRM-E067", f"{kind[:-1]} '{name}' is already "
                                              f"defined in {first}", src))
                    continue
                seen[(kind, doc.layer, name)] = src
                current = merged[kind].get(name)
                if spec.get("remove"):
                    if current is None:
                        errors.append(ConfigError("CRM-E067", f"cannot remove {kind[:-1]} "
                                                  f"'{name}': no earlier layer defines it", src))
                    else:
                        del merged[kind][name]
                    continue
                earlier = dict(current[0]) if current else {}
                for one, other in (("url", "url_env"), ("url_env", "url")):
                    if kind == "webhooks" and one in spec:
                        earlier.pop(other, None)  # a layer switching url <-> url_env
                body = {**earlier, **spec}
                merged[kind][name] = (body, doc)
    webhooks = {name: _webhook(name, body, doc, meta, errors)
                for name, (body, doc) in merged["webhooks"].items()}
    automations = {name: _automation(name, body, doc, meta, errors)
                   for name, (body, doc) in merged["automations"].items()}
    found: dict[str, dict[str, Any]] = {
        "webhooks": webhooks, "automations": automations,
        "stages": check_stages(merged["stages"], meta, errors),
        "conversions": check_conversions(merged["conversions"], meta, errors),
        "approvals": check_approvals(merged["approvals"], meta, errors),
        "escalations": check_escalations(merged["escalations"], meta, errors)}
    features = {s: section_module(s).check(merged[s], meta, errors) for s in FEATURE_SECTIONS}
    out: dict[str, Any] = {k: v for k, v in found.items() if v}
    if any(features.values()):
        out["features"] = {s: defs for s, defs in features.items() if defs}
    return out, errors


def _webhook(name: str, body: dict[str, Any], doc: Any, meta: Meta,
             errors: list[ConfigError]) -> WebhookDef:
    at = doc.positions.at
    base = ("webhooks", name)
    url, url_env = body.get("url"), body.get("url_env")
    if bool(url) == bool(url_env):
        errors.append(ConfigError("CRM-E062", f"webhook '{name}' needs exactly one of `url` "
                                  "or `url_env`", at(base)))
    elif url and not re.match(r"^https?://[^\s/]+", str(url)):
        errors.append(ConfigError("CRM-E062", f"webhook '{name}': url '{url}' must start "
                                  "with http:// or https://", at((*base, "url"))))
    entities: set[str] = set()
    for i, pattern in enumerate(body.get("events") or ()):
        src = at((*base, "events", i))
        if pattern == "*":
            entities.update(meta.entities)
            continue
        ent, _, event = str(pattern).partition(".")
        if ent not in meta.entities:
            errors.append(ConfigError("CRM-E061", f"webhook '{name}': event '{pattern}' names "
                                      f"no entity '{ent}'{_hint(ent, meta.entities)}", src))
        elif event != "*" and event not in RECORD_EVENTS:
            errors.append(ConfigError("CRM-E061", f"webhook '{name}': event '{pattern}' is not "
                                      f"one of {ent}.{{{','.join(RECORD_EVENTS)}}} or "
                                      f"{ent}.*{_hint(event, RECORD_EVENTS)}", src))
        else:
            entities.add(ent)
    known = {f for e in entities for f in meta.entities[e].fields}
    for i, fname in enumerate(body.get("fields") or ()):
        if entities and fname not in known:
            errors.append(ConfigError("CRM-E063", f"webhook '{name}': field '{fname}' is not a "
                                      f"field of {', '.join(sorted(entities))}"
                                      f"{_hint(fname, known)}", at((*base, "fields", i))))
    return WebhookDef(name=name, events=tuple(body.get("events") or ()), url=url,
                      url_env=url_env, secret_env=body.get("secret_env"),
                      fields=tuple(body.get("fields") or ()),
                      active=bool(body.get("active", True)), source=at(base))


def _automation(name: str, body: dict[str, Any], doc: Any, meta: Meta,
                errors: list[ConfigError]) -> AutomationDef:
    from app.fields import registry as field_registry
    from app.meta.checks import check_expression, expr_kinds

    at = doc.positions.at
    base = ("automations", name)
    for key in ("entity", "events", "actions"):
        if key not in body:
            errors.append(ConfigError("CRM-E012", f"automation '{name}' needs `{key}`", at(base)))
    ent = str(body.get("entity") or "")
    entity = meta.entities.get(ent)
    if ent and entity is None:
        errors.append(ConfigError("CRM-E064", f"automation '{name}': there is no entity "
                                  f"'{ent}'{_hint(ent, meta.entities)}",
                                  at((*base, "entity"))))
    when = body.get("when")
    if when and entity is not None:
        errs, _names = check_expression(f"automation '{name}' when", str(when),
                                        expr_kinds(entity, field_registry),
                                        at((*base, "when")))
        errors.extend(errs)
    steps = check_action_steps(f"automation '{name}'", body.get("actions") or (),
                               (*base, "actions"), at, errors)
    return AutomationDef(name=name, entity=ent, on=tuple(body.get("events") or ()),
                         actions=tuple(steps), when=str(when) if when else None,
                         active=bool(body.get("active", True)), source=at(base))


def check_action_steps(what: str, steps: Sequence[Mapping[str, Any]],
                       base: tuple[str | int, ...], at: Any, errors: list[ConfigError], *,
                       local: Mapping[str, Mapping[str, Any]] | None = None) -> list[ActionRef]:
    """The `{action: {params}}` steps at `base` as ActionRefs, each checked: a registered action
    (or one of `local`: name -> params schema, run by the caller itself) with parameters that
    fit its schema and string parameters that are plain templates (CRM-E065, E066, E068).
    `what` names the owner in messages ("automation 'x'")."""
    from app.actions import check_template, registry

    _builtin_actions()
    local = local or {}
    out: list[ActionRef] = []
    for i, step in enumerate(steps):
        (action_name, params), = step.items()
        src = at((*base, i, action_name))
        action = registry.get(action_name)
        schema = local.get(action_name) or (action.params_schema if action else None)
        if schema is None:
            names = sorted({*registry.names(), *local})
            errors.append(ConfigError("CRM-E065", f"{what}: unknown action "
                                      f"'{action_name}'{_hint(action_name, names)}; "
                                      f"the actions are: {', '.join(names)}", src))
            continue
        params = params or {}
        validator = jsonschema.Draft202012Validator(dict(schema))
        for err in sorted(validator.iter_errors(params), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in err.absolute_path)
            errors.append(ConfigError("CRM-E066", f"{what}: action "
                                      f"'{action_name}'{' ' + where if where else ''}: "
                                      f"{err.message}",
                                      at((*base, i, action_name, *err.absolute_path))))
        if action_name != "set":  # `set` values are field values, not templates
            for path, text in _strings(params):
                problem = check_template(text)
                if problem:
                    errors.append(ConfigError("CRM-E068", f"{what}: action "
                                              f"'{action_name}' {'.'.join(map(str, path))}: "
                                              f"{problem}", at((*base, i, action_name, *path))))
        out.append(ActionRef(action_name, freeze(params)))
    return out


def _strings(value: Any, path: tuple[str | int, ...] = ()
             ) -> list[tuple[tuple[str | int, ...], str]]:
    """Every string in an action's parameters, with its path (they are all templates)."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [found for k, v in value.items() for found in _strings(v, (*path, k))]
    if isinstance(value, list | tuple):
        return [found for i, v in enumerate(value) for found in _strings(v, (*path, i))]
    return []


def webhooks_to_dict(hooks: Mapping[str, WebhookDef]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for h in hooks.values():
        item: dict[str, Any] = {"events": list(h.events)}
        for key in ("url", "url_env", "secret_env"):
            if getattr(h, key):
                item[key] = getattr(h, key)
        if h.fields:
            item["fields"] = list(h.fields)
        if not h.active:
            item["active"] = False
        out[h.name] = item
    return out


def automations_to_dict(autos: Mapping[str, AutomationDef]) -> dict[str, Any]:
    from app.meta.types import thaw

    out: dict[str, Any] = {}
    for a in autos.values():
        item: dict[str, Any] = {"entity": a.entity, "events": list(a.on),
                                "actions": [{s.action: thaw(s.params)} for s in a.actions]}
        if a.when:
            item["when"] = a.when
        if not a.active:
            item["active"] = False
        out[a.name] = item
    return out


def webhooks_from_dict(data: Mapping[str, Any], src: Source) -> dict[str, WebhookDef]:
    return {name: WebhookDef(name=name, events=tuple(d.get("events") or ()), url=d.get("url"),
                             url_env=d.get("url_env"), secret_env=d.get("secret_env"),
                             fields=tuple(d.get("fields") or ()),
                             active=bool(d.get("active", True)), source=src)
            for name, d in data.items()}


def automations_from_dict(data: Mapping[str, Any], src: Source) -> dict[str, AutomationDef]:
    out: dict[str, AutomationDef] = {}
    for name, d in data.items():
        steps = tuple(ActionRef(k, freeze(v or {})) for step in d.get("actions") or ()
                      for k, v in step.items())
        out[name] = AutomationDef(name=name, entity=d["entity"], on=tuple(d.get("events") or ()),
                                  actions=steps, when=d.get("when"),
                                  active=bool(d.get("active", True)), source=src)
    return out
