"""The stage machine form of the designer: a machine's YAML definition as form values and back.

The moves anyone may make are a grid of checkboxes (from x to, `*` = from any stage); moves
with `roles`, a `when` guard or a `message` are rules of their own (from, to, roles, when,
message). Saving keeps every transition of the file whose moves are all still wanted, exactly
as written, replaces the edited rules in place, and writes the moves left over as new
transitions (grouped: each from-stage with the stages it may go to).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.i18n import _
from app.meta.stages import ANY, values_of
from app.meta.types import EntityDef, FieldDef
from app.web.designer_formbits import (
    Errors,
    Form,
    add_error,
    check_fields,
    check_when,
    count,
    keep_order,
    labels,
    names,
    one_or_list,
    text,
    yaml_text,
    yaml_value,
)

Move = tuple[str, str]


@dataclass
class Rule:
    """A transition with roles, a guard or a message; `at` is its index in the file's list."""

    at: int | None = None
    from_: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    when: str = ""
    message: dict[str, str] = field(default_factory=dict)

    def moves(self) -> set[Move]:
        return {(f, t) for f in self.from_ for t in self.to}


@dataclass
class StageForm:
    entity: EntityDef
    picklist: FieldDef
    initial: list[str] = field(default_factory=list)
    moves: set[Move] = field(default_factory=set)
    rules: list[Rule] = field(default_factory=list)
    #: stage -> the required fields as typed
    require: dict[str, str] = field(default_factory=dict)
    on_enter: str = ""
    errors: Errors = field(default_factory=dict)

    @property
    def stages(self) -> list[str]:
        return [c.value for c in self.picklist.choices]

    @property
    def sources(self) -> list[str]:
        """The grid's rows: any stage, then each stage."""
        return [ANY, *self.stages]

    def ruled(self) -> set[Move]:
        """Moves some rule allows (to whom, or when, it says)."""
        return {m for r in self.rules for m in r.moves()}


def guarded(item: Mapping[str, Any]) -> bool:
    return bool(item.get("roles") or item.get("when") or item.get("message"))


def item_moves(item: Mapping[str, Any]) -> set[Move]:
    return {(f, t) for f in values_of(item.get("from")) for t in values_of(item.get("to"))}


def from_definition(body: Mapping[str, Any], entity: EntityDef, picklist: FieldDef
                    ) -> StageForm:
    out = StageForm(entity, picklist, initial=list(values_of(body.get("initial"))))
    for i, item in enumerate(body.get("transitions") or ()):
        if not isinstance(item, Mapping):
            continue
        if guarded(item):
            message = item.get("message") if isinstance(item.get("message"), Mapping) else {}
            out.rules.append(Rule(i, list(values_of(item.get("from"))),
                                  list(values_of(item.get("to"))),
                                  [str(r) for r in item.get("roles") or ()],
                                  str(item.get("when") or ""),
                                  {str(k): str(v) for k, v in (message or {}).items()}))
        else:
            out.moves |= {(f, t) for f, t in item_moves(item) if f != t}
    for stage, fields in (body.get("require") or {}).items():
        out.require[str(stage)] = ", ".join(str(f) for f in fields or ())
    out.on_enter = yaml_text(body.get("on_enter"))
    return out


def parse(form: Form, entity: EntityDef, picklist: FieldDef, roles: list[str]) -> StageForm:
    """The posted form; problems in `errors` under each input's name."""
    out = StageForm(entity, picklist)
    stages = out.stages
    wanted = set(form.getlist("initial"))
    out.initial = [s for s in stages if s in wanted]
    for raw in form.getlist("move"):
        src, _sep, dst = raw.partition(">")
        if (src in stages or src == ANY) and dst in stages and src != dst:
            out.moves.add((src, dst))
    for i in range(count(form, "rules")):
        key = f"r{i}"
        if form.get(f"{key}-remove"):
            continue
        at_raw = form.get(f"{key}-at") or ""
        rule = Rule(int(at_raw) if at_raw.isdigit() else None,
                    [s for s in form.getlist(f"{key}-from") if s in stages or s == ANY],
                    [s for s in form.getlist(f"{key}-to") if s in stages],
                    [r for r in form.getlist(f"{key}-roles") if r in roles],
                    text(form, f"{key}-when"), labels(form, f"{key}-message"))
        blank = not (rule.from_ or rule.to or rule.roles or rule.when or rule.message)
        if blank and rule.at is None:
            continue  # the empty row for a new rule
        if not rule.from_:
            add_error(out.errors, f"{key}-from", _("Choose the stages it moves from."))
        if not rule.to:
            add_error(out.errors, f"{key}-to", _("Choose the stages it moves to."))
        if not (rule.roles or rule.when):
            add_error(out.errors, f"{key}-roles", _(
                "Give roles or a condition, or tick the move in the grid instead."))
        check_when(out.errors, f"{key}-when", rule.when, entity)
        out.rules.append(rule)
    for stage in stages:
        typed = text(form, f"require-{stage}")
        if typed:
            check_fields(out.errors, f"require-{stage}", names(typed), entity)
            out.require[stage] = typed
    out.on_enter = form.get("on_enter") or ""
    on_enter = yaml_value(out.errors, "on_enter", out.on_enter)
    if on_enter is not None and (not isinstance(on_enter, Mapping) or not all(
            isinstance(v, list) for v in on_enter.values())):
        add_error(out.errors, "on_enter", _(
            "Write each stage, then its list of actions, like “won:” and below it "
            "“  - set: {probability: 100}”."))
    elif on_enter is not None:
        unknown = [str(s) for s in on_enter if str(s) not in stages]
        if unknown:
            add_error(out.errors, "on_enter", _("Not a stage: %(names)s.",
                                                names=", ".join(unknown)))
    if not out.moves and not out.rules:
        add_error(out.errors, "move", _("Allow at least one move."))
    return out


def _rule_item(rule: Rule, like: Mapping[str, Any] | None) -> dict[str, Any]:
    like = like or {}
    item: dict[str, Any] = {"from": one_or_list(rule.from_, like.get("from")),
                            "to": one_or_list(rule.to, like.get("to"))}
    if rule.roles:
        item["roles"] = keep_order(rule.roles, like.get("roles"))
    if rule.when:
        item["when"] = rule.when
    if rule.message:
        item["message"] = dict(rule.message)
    return item


def grouped(moves: set[Move], sources: list[str], stages: list[str]) -> list[dict[str, Any]]:
    """Moves as transitions: each from-stage with the stages it goes to, from-stages going to
    the same stages together."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for src in sources:
        targets = tuple(t for t in stages if (src, t) in moves)
        if targets:
            groups.setdefault(targets, []).append(src)
    return [{"from": one_or_list(srcs), "to": one_or_list(list(targets))}
            for targets, srcs in groups.items()]


def transitions(original: list[Any], form: StageForm) -> list[Any]:
    """The new `transitions:` list (see the module's docstring)."""
    rules = {r.at: r for r in form.rules if r.at is not None}
    out: list[Any] = []
    covered: set[Move] = set()
    insert_at: int | None = None
    for i, item in enumerate(original):
        if not isinstance(item, Mapping):
            continue
        if guarded(item):
            if i in rules:
                out.append(_rule_item(rules[i], item))
            continue
        real = {(f, t) for f, t in item_moves(item) if f != t}
        if insert_at is None:
            insert_at = len(out)
        if real <= form.moves:
            out.append(item)
            covered |= real
            insert_at = len(out)
    fresh = grouped(form.moves - covered, form.sources, form.stages)
    at = len(out) if insert_at is None else insert_at
    out[at:at] = fresh
    out.extend(_rule_item(r, None) for r in form.rules if r.at is None)
    return out


def definition(form: StageForm, original: Mapping[str, Any]) -> dict[str, Any]:
    """The machine's whole definition from the form (keys in the file's order)."""
    out: dict[str, Any] = {"entity": form.entity.name, "field": form.picklist.name}
    if form.initial:
        out["initial"] = one_or_list(form.initial, original.get("initial", []))
    out["transitions"] = transitions(list(original.get("transitions") or ()), form)
    require = {stage: names(typed) for stage, typed in form.require.items() if names(typed)}
    if require:
        out["require"] = require
    on_enter = yaml_value({}, "on_enter", form.on_enter)
    if on_enter:
        out["on_enter"] = on_enter
    return out
