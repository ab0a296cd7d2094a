"""Who may do what: roles with a hierarchy, teams, grants and sharing rules.

Two places hold access config, both part of the versioned config:

- an access file in a schema folder (`schemas/_access.yaml`), top-level key `access:`::

      access:
        roles:
          sales_manager: {label: {en: Sales manager}, reports_to: sales_director,
                          default: {create: true, read: subordinates, edit: subordinates}}
        teams:
          east: {label: {en: East China, zh: 华东}}
        sharing:
          vip_cases:                      # criteria-based sharing
            entity: case
            via: account                  # optional: the condition is on the linked account
            when: "vip == true"
            roles: [service_manager]
            access: read                  # or edit

- `permissions:` in an entity file: per role, the grant for that entity (it overrides the
  role's `default` key by key) and the fields it may not see or change::

      permissions:
        sales_rep: {create: true, read: own, edit: own, delete: none, export: true,
                    hidden: [margin], read_only: [probability]}

Scoped actions (read, edit, delete) take a scope, each wider than the one before: none, own
(records the user owns), team (owned by anyone in one of the user's teams), subordinates
(also owned by users whose role is below one of the user's roles), all. Flag actions (create,
export, import, merge) are true or false. Nothing is granted unless a grant says so; the
`admin` role may do everything. Layers merge by name, key by key, like the rest of the
config. Problems are `ConfigError`s CRM-E080..E087 with file and line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from app.meta.errors import ConfigError
from app.meta.types import IDENTIFIER, Labels, Meta, Source, freeze, thaw

#: the role that may do everything, whatever the grants say
ADMIN = "admin"
SCOPES: tuple[str, ...] = ("none", "own", "team", "subordinates", "all")
SCOPED_ACTIONS: tuple[str, ...] = ("read", "edit", "delete")
#: `merge`: detect duplicates and merge records (app/dedupe, docs/duplicates.md)
FLAG_ACTIONS: tuple[str, ...] = ("create", "export", "import", "merge")
ACTIONS: tuple[str, ...] = ("create", "read", "edit", "delete", "export", "import", "merge")
SHARE_ACCESS: tuple[str, ...] = ("read", "edit")

_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_GRANT_PROPS: dict[str, Any] = {
    **{a: {"enum": list(SCOPES)} for a in SCOPED_ACTIONS},
    **{a: {"type": "boolean"} for a in FLAG_ACTIONS},
}
#: the schema of one role's grant (role defaults: no field lists)
DEFAULT_GRANT_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "properties": _GRANT_PROPS}
#: the schema of one role's entry in an entity's `permissions:`
ENTITY_GRANT_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {**_GRANT_PROPS,
                   "hidden": {"type": "array", "items": _NAME},
                   "read_only": {"type": "array", "items": _NAME}}}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "CRM access file",
    "type": "object",
    "additionalProperties": False,
    "required": ["access"],
    "properties": {"access": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "roles": {"type": "object", "propertyNames": _NAME, "additionalProperties": {
                "type": "object", "additionalProperties": False, "properties": {
                    "label": _LABELS,
                    "reports_to": {"anyOf": [_NAME, {"type": "null"}]},
                    "default": DEFAULT_GRANT_SCHEMA}}},
            "teams": {"type": "object", "propertyNames": _NAME, "additionalProperties": {
                "type": "object", "additionalProperties": False, "properties": {
                    "label": _LABELS, "remove": {"const": True}}}},
            "sharing": {"type": "object", "propertyNames": _NAME, "additionalProperties": {
                "type": "object", "additionalProperties": False, "properties": {
                    "entity": _NAME, "via": _NAME,
                    "when": {"type": "string", "minLength": 1},
                    "roles": {"type": "array", "items": _NAME},
                    "teams": {"type": "array", "items": _NAME},
                    "access": {"enum": list(SHARE_ACCESS)},
                    "remove": {"const": True}}}},
        }}},
}


@dataclass(frozen=True)
class RoleDef:
    name: str
    label: Labels = field(default_factory=dict)
    reports_to: str | None = None
    #: the role's grant on every entity whose `permissions:` does not say otherwise
    default: Mapping[str, Any] = field(default_factory=dict)
    source: Source = field(default_factory=lambda: Source("<unknown>"))


@dataclass(frozen=True)
class TeamDef:
    name: str
    label: Labels = field(default_factory=dict)
    source: Source = field(default_factory=lambda: Source("<unknown>"))


@dataclass(frozen=True)
class SharingRule:
    """Records of `entity` matching `when` (on the record, or on the record its `via` lookup
    points to) are shared with `roles` and `teams` for `access` (read, or read and edit)."""

    name: str
    entity: str
    when: str
    access: str = "read"
    via: str | None = None
    roles: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    source: Source = field(default_factory=lambda: Source("<unknown>"))


@dataclass(frozen=True)
class AccessDef:
    roles: Mapping[str, RoleDef] = field(default_factory=dict)
    teams: Mapping[str, TeamDef] = field(default_factory=dict)
    sharing: Mapping[str, SharingRule] = field(default_factory=dict)

    def below(self, role: str) -> set[str]:
        """Every role that reports to `role`, directly or further down."""
        out: set[str] = set()
        frontier = {role}
        while frontier:
            nxt = {r.name for r in self.roles.values() if r.reports_to in frontier} - out
            out |= nxt
            frontier = nxt
        return out


#: the JSON Schema editors use for access files (`crm config jsonschema --write` writes it)
SHIPPED = Path(__file__).with_name("access.schema.json")


def render() -> str:
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def is_access_doc(data: Any) -> bool:
    return isinstance(data, dict) and "access" in data


def load_access(docs: Sequence[Any], meta: Meta) -> tuple[AccessDef, list[ConfigError]]:
    """Merge the access documents (schema folders' `access:` files, base layer first) and
    check them, and every entity's `permissions:`, against `meta`."""
    from app.meta.loader import _schema_errors

    errors: list[ConfigError] = []
    validator = jsonschema.Draft202012Validator(SCHEMA)
    merged: dict[str, dict[str, tuple[dict[str, Any], Source]]] = {
        "roles": {}, "teams": {}, "sharing": {}}
    for doc in docs:
        errs = _schema_errors(doc, validator)
        errors.extend(errs)
        if errs:
            continue
        for kind, items in (doc.data.get("access") or {}).items():
            for name, spec in (items or {}).items():
                src = doc.positions.at(("access", kind, name))
                if spec.get("remove"):
                    if merged[kind].pop(name, None) is None:
                        errors.append(ConfigError("CRM-E087", f"cannot remove {kind} "
                                                  f"'{name}': no earlier layer defines it", src))
                    continue
                earlier = merged[kind].get(name, ({}, src))[0]
                body = {**earlier, **spec}
                if kind == "roles" and "default" in spec and "default" in earlier:
                    body["default"] = {**earlier["default"], **spec["default"]}
                merged[kind][name] = (body, src)
    access = AccessDef(
        roles=freeze({n: RoleDef(n, freeze(b.get("label") or {}), b.get("reports_to"),
                                 freeze(b.get("default") or {}), s)
                      for n, (b, s) in merged["roles"].items()}),
        teams=freeze({n: TeamDef(n, freeze(b.get("label") or {}), s)
                      for n, (b, s) in merged["teams"].items()}),
        sharing=freeze({n: SharingRule(n, b.get("entity", ""), b.get("when", ""),
                                       b.get("access", "read"), b.get("via"),
                                       tuple(b.get("roles") or ()), tuple(b.get("teams") or ()),
                                       s)
                        for n, (b, s) in merged["sharing"].items()}))
    errors += check_access(access, meta)
    return access, errors


def _hint(name: str, known: Sequence[str] | Mapping[str, Any]) -> str:
    from app.meta.checks import _hint as hint

    return hint(name, known)


def check_access(access: AccessDef, meta: Meta) -> list[ConfigError]:
    errors: list[ConfigError] = []
    for role in access.roles.values():
        if role.name not in meta.roles:
            errors.append(ConfigError("CRM-E080", f"access role '{role.name}' is not in "
                                      f"config.yaml's roles{_hint(role.name, meta.roles)}",
                                      role.source))
        if role.reports_to is not None and role.reports_to not in meta.roles:
            errors.append(ConfigError("CRM-E081", f"role '{role.name}' reports to "
                                      f"'{role.reports_to}', which is not a role"
                                      f"{_hint(role.reports_to, meta.roles)}", role.source))
        elif role.name in access.below(role.name):
            errors.append(ConfigError("CRM-E081", f"role '{role.name}' reports to itself "
                                      "through its `reports_to` chain", role.source))
    for rule in access.sharing.values():
        errors += _check_rule(rule, access, meta)
    for entity in meta:
        for who, grant in entity.permissions.items():
            if not isinstance(grant, Mapping):
                continue  # the JSON schema reported it
            for key in ("hidden", "read_only"):
                for fname in grant.get(key, ()):
                    if fname not in entity.fields:
                        errors.append(ConfigError(
                            "CRM-E082", f"permissions of '{entity.name}' for '{who}' "
                            f"{key} names field '{fname}'{_hint(fname, entity.fields)}, which "
                            "it does not have", entity.source))
    return errors


def _check_rule(rule: SharingRule, access: AccessDef, meta: Meta) -> list[ConfigError]:
    from app.expr.parser import ExprError, parse
    from app.fields import registry
    from app.meta.checks import expr_kinds

    where = f"sharing rule '{rule.name}'"
    errors: list[ConfigError] = []
    entity = meta.entities.get(rule.entity)
    if entity is None:
        return [ConfigError("CRM-E083", f"{where} names entity '{rule.entity}'"
                            f"{_hint(rule.entity, meta.entities)}, which does not exist",
                            rule.source)]
    target = entity
    if rule.via is not None:
        via = entity.fields.get(rule.via)
        if via is None or via.type not in ("lookup", "master_detail"):
            return [ConfigError("CRM-E084", f"{where}: via '{rule.via}' is not a lookup of "
                                f"'{entity.name}'{_hint(rule.via, entity.fields)}",
                                rule.source)]
        found = meta.entities.get(str(via.opt("to")))
        if found is None:  # the lookup's own error (an unknown entity) is reported already
            return errors
        target = found
    if not rule.when:
        errors.append(ConfigError("CRM-E085", f"{where} needs `when`", rule.source))
    else:
        try:
            parse(rule.when, expr_kinds(target, registry))
        except ExprError as exc:
            errors.append(ConfigError(exc.code, f"{where} when: {exc.message}", rule.source))
    if not rule.roles and not rule.teams:
        errors.append(ConfigError("CRM-E085", f"{where} shares with nobody: give `roles` "
                                  "or `teams`", rule.source))
    for role in rule.roles:
        if role not in meta.roles:
            errors.append(ConfigError("CRM-E086", f"{where} names role '{role}'"
                                      f"{_hint(role, meta.roles)}, which is not a role",
                                      rule.source))
    for team in rule.teams:
        if team not in access.teams:
            errors.append(ConfigError("CRM-E086", f"{where} names team '{team}'"
                                      f"{_hint(team, access.teams)}, which is not a team",
                                      rule.source))
    return errors


# --- snapshots -------------------------------------------------------------------------------
def access_to_dict(access: AccessDef) -> dict[str, Any]:
    return {
        "roles": {r.name: {"label": thaw(r.label), "reports_to": r.reports_to,
                           "default": thaw(r.default)} for r in access.roles.values()},
        "teams": {t.name: {"label": thaw(t.label)} for t in access.teams.values()},
        "sharing": {s.name: {"entity": s.entity, "when": s.when, "access": s.access,
                             "via": s.via, "roles": list(s.roles), "teams": list(s.teams)}
                    for s in access.sharing.values()},
    }


def access_from_dict(data: Mapping[str, Any], src: Source) -> AccessDef:
    return AccessDef(
        roles=freeze({n: RoleDef(n, freeze(b.get("label") or {}), b.get("reports_to"),
                                 freeze(b.get("default") or {}), src)
                      for n, b in (data.get("roles") or {}).items()}),
        teams=freeze({n: TeamDef(n, freeze(b.get("label") or {}), src)
                      for n, b in (data.get("teams") or {}).items()}),
        sharing=freeze({n: SharingRule(n, b["entity"], b["when"], b.get("access", "read"),
                                       b.get("via"), tuple(b.get("roles") or ()),
                                       tuple(b.get("teams") or ()), src)
                        for n, b in (data.get("sharing") or {}).items()}))
