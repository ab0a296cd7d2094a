"""Cross-reference checks over a whole Meta: names, titles, rules, expressions, permissions,
layouts, renames, column collisions, formula cycles, and each field type's own checks."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from app.expr import ExprError, parse
from app.fields.base import Registry
from app.meta.errors import ConfigError
from app.meta.listconf import check_lists
from app.meta.types import IDENTIFIER, RESERVED_NAMES, EntityDef, FieldDef, Meta, Source

#: first URL segments the web app uses itself: an entity of that name would be unreachable
WEB_PATHS = frozenset({"login", "logout", "search", "lookup", "admin", "static", "api",
                       "me", "my", "my_work", "attachments", "healthz", "meta", "docs",
                       "openapi", "approvals", "notifications", "designer", "reports",
                       "dashboards", "imports", "bootstrap", "consents", "archive",
                       "targets", "kb", "survey", "duplicates", "my-work"})


def _hint(name: str, options: Any) -> str:
    match = difflib.get_close_matches(name, list(options), 1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _name_errors(kind: str, name: str, src: Source) -> Iterator[ConfigError]:
    if not IDENTIFIER.match(name):
        yield ConfigError("CRM-E014", f"{kind} name '{name}' must start with a lower-case letter "
                          "and hold only a-z, 0-9 and _ (at most 63 characters)", src)
    elif name in RESERVED_NAMES:
        yield ConfigError("CRM-E015", f"{kind} name '{name}' is reserved; choose another", src)


def expr_kinds(entity: EntityDef, registry: Registry) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for f in entity:
        if f.type not in registry:
            continue
        kind = registry.get(f.type).expr_kind
        if f.type == "formula" and f.opt("result") in registry:
            kind = registry.get(f.opt("result")).expr_kind
        kinds[f.name] = kind
    return kinds


def check_expression(
    where: str, source: str, kinds: dict[str, str], src: Source
) -> tuple[list[ConfigError], frozenset[str]]:
    try:
        expr = parse(source, kinds)
    except ExprError as exc:
        return [ConfigError(exc.code, f"{where}: {exc.message} (at character {exc.offset + 1} "
                            f"of \"{source}\")", src)], frozenset()
    return [], expr.names


def _formula_cycles(entity: EntityDef, refs: dict[str, frozenset[str]]) -> Iterator[ConfigError]:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> list[str] | None:
        if state.get(name) == 1:
            return [*trail[trail.index(name):], name]
        if state.get(name) == 2:
            return None
        state[name] = 1
        for dep in refs.get(name, ()):
            cycle = visit(dep, [*trail, name])
            if cycle:
                return cycle
        state[name] = 2
        return None

    for name in refs:
        cycle = visit(name, [])
        if cycle:
            yield ConfigError("CRM-E046", "formulas refer to each other in a circle: "
                              + " -> ".join(cycle), entity.fields[cycle[0]].source)
            return


def check_entity(entity: EntityDef, meta: Meta, registry: Registry) -> Iterator[ConfigError]:
    yield from _name_errors("entity", entity.name, entity.source)
    if entity.name in WEB_PATHS:
        yield ConfigError("CRM-E015", f"entity name '{entity.name}' is reserved (the web app "
                          f"serves /{entity.name}/ itself); choose another", entity.source)
    kinds = expr_kinds(entity, registry)
    columns: dict[str, str] = {}
    formula_refs: dict[str, frozenset[str]] = {}
    renamed: dict[str, str] = {}
    for f in entity:
        yield from _name_errors("field", f.name, f.source)
        ftype = registry.get(f.type)
        col = ftype.column_name(f) if ftype.has_column else None
        if col is not None:
            if col in columns:
                yield ConfigError("CRM-E035", f"fields '{columns[col]}' and '{f.name}' of "
                                  f"'{entity.name}' would both use column '{col}'", f.source)
            columns[col] = f.name
        for problem in ftype.check(f, entity, meta):
            yield ConfigError(problem.code, f"{entity.name}.{f.name}: {problem.message}",
                              f.source)
        yield from _field_expressions(entity, f, kinds, meta, registry, formula_refs)
        if f.renamed_from:
            if f.renamed_from in entity.fields:
                yield ConfigError("CRM-E037", f"'{f.name}' is renamed from '{f.renamed_from}', "
                                  "but that field still exists", f.source)
            elif f.renamed_from in renamed:
                yield ConfigError("CRM-E037", f"'{f.renamed_from}' is renamed twice (to "
                                  f"'{renamed[f.renamed_from]}' and '{f.name}')", f.source)
            renamed[f.renamed_from] = f.name
    yield from _formula_cycles(entity, formula_refs)
    if entity.title and entity.title not in entity.fields:
        yield ConfigError("CRM-E019", f"title '{entity.title}' is not a field of "
                          f"'{entity.name}'{_hint(entity.title, entity.fields)}", entity.source)
    yield from _rule_errors(entity, kinds)
    for role in entity.permissions:
        if role not in meta.roles:
            yield ConfigError("CRM-E031", f"permissions of '{entity.name}' name role '{role}', "
                              f"which config.yaml does not list{_hint(role, meta.roles)}",
                              entity.source)
    for section in entity.layout:
        for fname in section.get("fields", ()):
            if fname not in entity.fields:
                yield ConfigError("CRM-E032", f"layout of '{entity.name}' names field "
                                  f"'{fname}'{_hint(fname, entity.fields)}, which it does not "
                                  "have", entity.source)
    yield from check_lists(entity, registry)
    yield from _encrypted_errors(entity, kinds, meta, registry)


#: field types `encrypted: true` applies to; plugin types built on `string` qualify too
ENCRYPTABLE = frozenset({"string", "text", "email", "phone"})


def encryptable(f: FieldDef, registry: Registry) -> bool:
    from app.fields.text import RichTextType, StringType, UrlType

    ftype = registry.get(f.type)
    if f.type in ENCRYPTABLE:
        return True
    return registry.plugin_of(f.type) is not None and isinstance(ftype, StringType) \
        and not isinstance(ftype, RichTextType | UrlType)


def _names(source: str | None, kinds: dict[str, str]) -> frozenset[str]:
    if not source:
        return frozenset()
    try:
        return parse(source, kinds).names
    except ExprError:  # reported by the expression checks
        return frozenset()


def _encrypted_errors(entity: EntityDef, kinds: dict[str, str], meta: Meta,
                      registry: Registry) -> Iterator[ConfigError]:
    """CRM-E048 (where `encrypted` cannot apply) and CRM-E049 (an encrypted field used where
    the database or an expression would need its clear value)."""
    secret = {f.name for f in entity if f.encrypted}
    for f in entity:
        if f.encrypted and f.type in registry and not encryptable(f, registry):
            yield ConfigError("CRM-E048", f"{entity.name}.{f.name}: `encrypted` does not apply "
                              f"to a {f.type} field (only to {', '.join(sorted(ENCRYPTABLE))})",
                              f.source)
        for flag in ("unique", "indexed"):
            if f.encrypted and getattr(f, flag):
                yield ConfigError("CRM-E048", f"{entity.name}.{f.name}: an encrypted field "
                                  f"cannot be {flag} (its stored values are ciphertext)",
                                  f.source)
        uses = [("formula", f.opt("expr") if f.type == "formula" else None),
                ("visible_when", f.visible_when), ("required_when", f.required_when),
                ("default", f.default_expr)]
        if f.type == "rollup" and f.opt("entity") in meta.entities:
            child = meta.entities[f.opt("entity")]
            hidden = {g.name for g in child if g.encrypted}
            used = (_names(f.opt("where"), expr_kinds(child, registry))
                    | {str(f.opt("field"))}) & hidden
            for name in sorted(used):
                yield ConfigError("CRM-E049", f"{entity.name}.{f.name}: the roll-up uses "
                                  f"{child.name}.{name}, which is encrypted", f.source)
        for what, source in uses:
            for name in sorted(_names(source, kinds) & secret):
                yield ConfigError("CRM-E049", f"{entity.name}.{f.name} {what} uses '{name}', "
                                  "which is encrypted (its value is not readable there)",
                                  f.source)
    for rule in entity.rules:
        for name in sorted(_names(rule.when, kinds) & secret):
            yield ConfigError("CRM-E049", f"rule '{rule.name}' of '{entity.name}' uses "
                              f"'{name}', which is encrypted", rule.source)
    if entity.title in secret:
        yield ConfigError("CRM-E049", f"title '{entity.title}' of '{entity.name}' is encrypted; "
                          "a title is searched and shown in links, so choose another field",
                          entity.source)


def _field_expressions(
    entity: EntityDef, f: FieldDef, kinds: dict[str, str], meta: Meta, registry: Registry,
    formula_refs: dict[str, frozenset[str]],
) -> Iterator[ConfigError]:
    where = f"{entity.name}.{f.name}"
    for option in ("visible_when", "required_when", "default_expr"):
        source = getattr(f, option)
        if source:
            errs, _ = check_expression(f"{where} {option}", source, kinds, f.source)
            yield from errs
    if f.type == "formula" and f.opt("expr"):
        errs, names = check_expression(f"{where} formula", f.opt("expr"), kinds, f.source)
        yield from errs
        if not errs:
            yield from _computable_in_sql(where, f, kinds)
        formula_refs[f.name] = frozenset(
            n for n in names if entity.fields.get(n) and entity.fields[n].type == "formula"
        )
    if f.type == "rollup" and f.opt("where") and f.opt("entity") in meta.entities:
        child = meta.entities[f.opt("entity")]
        errs, _ = check_expression(f"{where} rollup where", f.opt("where"),
                                   expr_kinds(child, registry), f.source)
        yield from errs


def _computable_in_sql(where: str, f: FieldDef, kinds: dict[str, str]
                       ) -> Iterator[ConfigError]:
    """A formula is a column expression, so it must compile to SQL (e.g. no `x in tags`)."""
    try:
        parse(f.opt("expr"), kinds).to_sql({n: sa.column(n) for n in kinds})
    except ExprError as exc:
        yield ConfigError(exc.code, f"{where} formula: {exc.message}", f.source)


def _rule_errors(entity: EntityDef, kinds: dict[str, str]) -> Iterator[ConfigError]:
    seen: set[str] = set()
    for rule in entity.rules:
        yield from _name_errors("rule", rule.name, rule.source)
        if rule.name in seen:
            yield ConfigError("CRM-E034", f"two rules of '{entity.name}' are named "
                              f"'{rule.name}'", rule.source)
        seen.add(rule.name)
        if not rule.when:
            yield ConfigError("CRM-E012", f"rule '{rule.name}' needs `when`", rule.source)
        else:
            errs, _ = check_expression(f"rule '{rule.name}'", rule.when, kinds, rule.source)
            yield from errs
        if rule.field and rule.field not in entity.fields:
            yield ConfigError("CRM-E033", f"rule '{rule.name}' names field '{rule.field}'"
                              f"{_hint(rule.field, entity.fields)}, which '{entity.name}' does "
                              "not have", rule.source)


def check_meta(meta: Meta, registry: Registry) -> list[ConfigError]:
    errors: list[ConfigError] = []
    for entity in meta:
        errors.extend(check_entity(entity, meta, registry))
    return errors


def check_sql_condition(what: str, source: str, entity: EntityDef, src: Source, code: str,
                        errors: list[ConfigError]) -> None:
    """Check the `when` of a feature section: a yes/no expression over `entity`'s fields that
    the database can compute (it filters rows in SQL). Problems are `code` errors."""
    from app.fields import registry

    kinds = expr_kinds(entity, registry)
    errs, _names = check_expression(f"{what} when", source, kinds, src)
    if errs:
        errors.extend(errs)
        return
    expr = parse(source, kinds)
    if expr.kind not in ("bool", "any"):
        errors.append(ConfigError(code, f"{what}: `when` must be a yes/no condition, "
                                  f"not a {expr.kind} (\"{source}\")", src))
        return
    try:
        expr.to_sql({n: sa.column(n) for n in kinds})
    except ExprError as exc:
        errors.append(ConfigError(code, f"{what}: `when` cannot be computed in the "
                                  f"database: {exc.message}", src))
