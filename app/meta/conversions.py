"""Conversions (`conversions:` in workflows/*.yaml): turn one record into others in one go.

```yaml
conversions:
  lead_to_customer:
    from: lead
    when: "status == 'qualified'"          # optional: which records may be converted
    label: {en: Convert, zh: 转化}
    creates:                               # in this order; the key is the target entity
      account:
        match: {name: company}             # reuse an account whose name equals the company
        fields: {name: company, billing: address}   # target field (or preset block) <- source
      contact:
        fields: {last_name: last_name, account: "@account"}   # "@x": the record made above
      opportunity:
        optional: true                     # the user may leave it out
        fields: {name: company, account: "@account"}
    then:                                  # set on the source record afterwards
      set: {status: converted, converted_at: now, converted_account: "@account"}
  quote_to_contract:
    from: quote
    creates:
      contract:
        fields: {name: name, quote: "@source", quote_number: number}   # "@source": the quote
        lines:                             # the quote's lines become the contract's lines
          - {from: quote_line, via: quote, to: contract_line, link: contract,
             order: sort_order, fields: {product: product, quantity: quantity}}
    then:
      set: {converted_contract: "@contract"}
    repeatable: false                      # true: a converted record may be converted again
```

A target whose key is not an entity names it with `entity:`. A preset block (`billing:
address`) maps field by field (`billing_city <- address_city` ...). Files are read and merged
by name like stage machines (app/meta/workflows.py reads them); `check_conversions` checks the
merged bodies against the entities. Problems are `ConfigError`s CRM-E090..E096 with file and
line (`lines:` entries: CRM-E132..E135, their `fields` the same codes as a target's), and the
expression codes for `when`. The result goes on `Meta.conversions`; the records
side is app/workflow/convert.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.meta.errors import ConfigError
from app.meta.types import (
    IDENTIFIER,
    ConversionDef,
    ConversionLinesDef,
    ConversionTargetDef,
    EntityDef,
    FieldDef,
    Meta,
    Source,
    freeze,
    thaw,
)

#: the `then.set` value that stands for the moment of the conversion
NOW = "now"
#: a value starting with this names an earlier target ("@account")
REF = "@"
#: "@source": the record converted
SOURCE = "source"
LINKS = ("lookup", "master_detail")

_NAME = {"type": "string", "pattern": IDENTIFIER.pattern}
_MAPPING = {"type": "object", "propertyNames": _NAME,
            "additionalProperties": {"type": "string", "minLength": 1}}
_LINES = {
    "type": "object",
    "additionalProperties": False,
    "required": ["from", "via", "to", "link", "fields"],
    "properties": {
        "from": _NAME, "via": _NAME, "to": _NAME, "link": _NAME, "order": _NAME,
        "fields": {**_MAPPING, "minProperties": 1},
    },
}
_TARGET = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "entity": _NAME,
        "match": {**_MAPPING, "minProperties": 1},
        "fields": _MAPPING,
        "optional": {"type": "boolean"},
        "lines": {"type": "array", "minItems": 1, "items": _LINES},
    },
}
CONVERSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "from": _NAME,
        "when": {"type": "string", "minLength": 1},
        "label": {"type": "object", "additionalProperties": {"type": "string"}},
        "creates": {"type": "object", "minProperties": 1, "propertyNames": _NAME,
                    "additionalProperties": _TARGET},
        "then": {"type": "object", "additionalProperties": False,
                 "properties": {"set": {"type": "object", "propertyNames": _NAME}}},
        "repeatable": {"type": "boolean"},
        "remove": {"const": True},
    },
}


def _hint(name: str, options: Any) -> str:
    from app.meta.checks import _hint as hint

    return hint(name, options)


def _ftype(f: FieldDef) -> Any:
    from app.fields import registry

    return registry.get(f.type) if f.type in registry else None


def _kind(f: FieldDef) -> str:
    from app.fields import registry

    ftype = _ftype(f)
    if f.type == "formula" and f.opt("result") in registry:
        return str(registry.get(f.opt("result")).expr_kind)
    return str(ftype.expr_kind) if ftype is not None else f.type


def settable(f: FieldDef) -> bool:
    """Whether a conversion may write field `f` (a stored value the user could type)."""
    ftype = _ftype(f)
    return ftype is not None and ftype.has_column and not ftype.computed \
        and f.type != "autonumber"


class _Checker:
    def __init__(self, name: str, doc: Any, meta: Meta, errors: list[ConfigError]) -> None:
        self.what = f"conversion '{name}'"
        self.at = doc.positions.at
        self.base: tuple[str | int, ...] = ("conversions", name)
        self.meta = meta
        self.errors = errors

    def error(self, code: str, message: str, *path: str | int) -> None:
        self.errors.append(ConfigError(code, f"{self.what}: {message}",
                                       self.at((*self.base, *path))))

    def entity(self, name: str, *path: str | int) -> EntityDef | None:
        e = self.meta.entities.get(name)
        if e is None:
            self.error("CRM-E090", f"there is no entity '{name}'"
                                   f"{_hint(name, self.meta.entities)}", *path)
        return e

    def pairs(self, target: EntityDef, tname: str, source: EntityDef, sname: str,
              *path: str | int) -> list[tuple[str, str]]:
        """(target field, source field) for one `fields` entry, preset blocks field by field."""
        if tname in target.fields:
            if sname in source.fields:
                return [(tname, sname)]
            if any(k.startswith(sname + "_") for k in source.fields):
                self.error("CRM-E094", f"{target.name}.{tname} is one field but "
                                       f"{source.name}.{sname} is a block of fields", *path)
            else:
                self.error("CRM-E091", f"{source.name} has no field '{sname}'"
                                       f"{_hint(sname, source.fields)}", *path)
            return []
        t_block = {k[len(tname) + 1:]: k for k in target.fields if k.startswith(tname + "_")}
        if not t_block:
            self.error("CRM-E091", f"{target.name} has no field '{tname}'"
                                   f"{_hint(tname, target.fields)}", *path)
            return []
        s_block = {k[len(sname) + 1:]: k for k in source.fields if k.startswith(sname + "_")}
        if not s_block:
            problem = (f"{source.name}.{sname} is one field, not a block like "
                       f"{target.name}.{tname}" if sname in source.fields else
                       f"{source.name} has no block of fields '{sname}'")
            self.error("CRM-E094", problem, *path)
            return []
        missing = sorted(set(t_block) - set(s_block))
        if missing:
            self.error("CRM-E094", f"the block {target.name}.{tname} has "
                                   f"{', '.join(t_block[m] for m in missing)} but "
                                   f"{source.name}.{sname} has no "
                                   f"{', '.join(sname + '_' + m for m in missing)}", *path)
            return []
        return [(t_block[k], s_block[k]) for k in t_block]

    def fits(self, t: FieldDef, target: str, s: FieldDef, source: str,
             *path: str | int) -> bool:
        """Whether a value of source field `s` fits target field `t` (CRM-E092)."""
        where = f"{target}.{t.name} <- {source}.{s.name}"
        if _kind(t) != _kind(s):
            self.error("CRM-E092", f"{where}: a {s.type} value does not fit a {t.type} field",
                       *path)
            return False
        if (t.type in LINKS or s.type in LINKS) and t.opt("to") != s.opt("to"):
            self.error("CRM-E092", f"{where}: the lookups point to different entities "
                                   f"({s.opt('to')} and {t.opt('to')})", *path)
            return False
        if t.choices and s.choices:
            allowed = {c.value for c in t.choices}
            lost = [c.value for c in s.choices if c.value not in allowed]
            if lost:
                self.error("CRM-E092", f"{where}: {', '.join(lost)} of {source}.{s.name} "
                                       f"{'is' if len(lost) == 1 else 'are'} not a value of "
                                       f"{target}.{t.name}", *path)
                return False
        return True

    def ref(self, f: FieldDef, owner: str, value: str, made: Mapping[str, str],
            *path: str | int) -> bool:
        """Whether "@x" names an earlier target that field `f` of `owner` may link to."""
        ref = value[len(REF):]
        if ref not in made:
            before = [k for k in made if k != SOURCE]
            self.error("CRM-E093", f"{owner}.{f.name}: '{value}' names no earlier target"
                                   f"{_hint(ref, made)}; the targets before it are: "
                                   f"{', '.join(before) or 'none'} (and {REF}{SOURCE}, the "
                                   "record converted)", *path)
            return False
        if not made[ref]:  # a target whose entity is unknown (reported already)
            return False
        if f.type not in LINKS or f.opt("to") != made[ref]:
            kind = f"a lookup to {f.opt('to')}" if f.type in LINKS else f"a {f.type} field"
            self.error("CRM-E093", f"{owner}.{f.name}: '{value}' is a {made[ref]} but "
                                   f"{f.name} is {kind}", *path)
            return False
        return True


def _mapping(ck: _Checker, target: EntityDef, source: EntityDef, raw: Mapping[str, str],
             made: Mapping[str, str], path: tuple[str | int, ...]) -> dict[str, str]:
    """A `fields:` mapping (target field <- source field or "@ref") checked field by field."""
    name = target.name
    fields: dict[str, str] = {}
    where: dict[str, str] = {}
    for tname, sname in raw.items():
        fpath = (*path, "fields", tname)
        if sname.startswith(REF):
            f = target.fields.get(tname)
            if f is None:
                ck.error("CRM-E091", f"{name} has no field '{tname}'"
                                     f"{_hint(tname, target.fields)}", *fpath)
                continue
            if not ck.ref(f, name, sname, made, *fpath):
                continue
            pairs = [(tname, sname)]
        else:
            pairs = ck.pairs(target, tname, source, sname, *fpath)
        for t, s in pairs:
            tf = target.fields[t]
            if t in fields:
                ck.error("CRM-E095", f"{name}.{t} is set twice (by '{where[t]}' and "
                                     f"'{tname}')", *fpath)
            elif not settable(tf):
                ck.error("CRM-E091", f"{name}.{t} is a {tf.type} field: its value is "
                                     "computed, a conversion cannot set it", *fpath)
            elif s.startswith(REF) or ck.fits(tf, name, source.fields[s], source.name, *fpath):
                fields[t] = s
                where[t] = tname
    return fields


def _link(ck: _Checker, child: EntityDef, fname: str, parent: str, key: str,
          path: tuple[str | int, ...]) -> bool:
    """Whether `child.fname` is a lookup (or master-detail) to `parent` (CRM-E133)."""
    f = child.fields.get(fname)
    if f is None:
        ck.error("CRM-E133", f"{key}: {child.name} has no field '{fname}'"
                             f"{_hint(fname, child.fields)}", *path, key)
        return False
    if f.type not in LINKS or f.opt("to") != parent:
        kind = f"a lookup to {f.opt('to')}" if f.type in LINKS else f"a {f.type} field"
        ck.error("CRM-E133", f"{key}: {child.name}.{fname} is {kind}, not a lookup to "
                             f"{parent}", *path, key)
        return False
    return True


def _lines(ck: _Checker, body: Mapping[str, Any], source: EntityDef, target: EntityDef,
           made: Mapping[str, str], path: tuple[str | int, ...]
           ) -> tuple[ConversionLinesDef, ...]:
    """The `lines:` of one target: child records of the source copied under the target."""
    from app.fields import registry

    out: list[ConversionLinesDef] = []
    for i, raw in enumerate(body.get("lines") or ()):
        lpath = (*path, "lines", i)
        if body.get("match"):
            ck.error("CRM-E135", f"{target.name}: lines are copied to a record the conversion "
                                 "creates; a target with `match` may reuse an existing one",
                     *lpath)
            continue
        ents: list[EntityDef] = []
        for key in ("from", "to"):
            e = ck.meta.entities.get(str(raw[key]))
            if e is None:
                ck.error("CRM-E132", f"lines {key}: there is no entity '{raw[key]}'"
                                     f"{_hint(str(raw[key]), ck.meta.entities)}", *lpath, key)
            else:
                ents.append(e)
        if len(ents) != 2:
            continue
        child, copy = ents
        ok = _link(ck, child, str(raw["via"]), source.name, "via", lpath)
        ok = _link(ck, copy, str(raw["link"]), target.name, "link", lpath) and ok
        order = raw.get("order")
        if order is not None:
            f = child.fields.get(str(order))
            if f is None or not registry.get(f.type).has_column or f.encrypted:
                why = (f"{child.name} has no field '{order}'{_hint(str(order), child.fields)}"
                       if f is None else f"{child.name}.{order} is a {f.type} field that "
                       "cannot be sorted by")
                ck.error("CRM-E134", f"lines order: {why}", *lpath, "order")
                ok = False
        if raw["link"] in raw["fields"]:
            ck.error("CRM-E135", f"lines: {copy.name}.{raw['link']} is the link to the new "
                                 f"{target.name}; the conversion sets it, `fields` may not",
                     *lpath, "fields", str(raw["link"]))
            ok = False
        fields = _mapping(ck, copy, child, {k: v for k, v in raw["fields"].items()
                                            if k != raw["link"]}, made, lpath)
        if ok:
            out.append(ConversionLinesDef(from_entity=child.name, via=str(raw["via"]),
                                          to_entity=copy.name, link=str(raw["link"]),
                                          order=str(order) if order else None,
                                          fields=freeze(fields)))
    return tuple(out)


def _target(ck: _Checker, key: str, body: Mapping[str, Any], source: EntityDef,
            made: dict[str, str]) -> ConversionTargetDef | None:
    path = ("creates", key)
    name = str(body.get("entity") or key)
    if key == SOURCE:
        ck.error("CRM-E093", f"'{REF}{SOURCE}' stands for the record converted: call this "
                             "target something else", *path)
        return None
    target = ck.entity(name, *path, *(("entity",) if "entity" in body else ()))
    if target is None:
        made[key] = ""  # known, so "@key" raises no second error
        return None
    fields = _mapping(ck, target, source, body.get("fields") or {}, made, path)
    match: dict[str, str] = {}
    for tname, sname in (body.get("match") or {}).items():
        mpath = (*path, "match", tname)
        mt, ms = target.fields.get(tname), source.fields.get(sname)
        if mt is None or ms is None:
            ent, fname = (name, tname) if mt is None else (source.name, sname)
            ck.error("CRM-E091", f"match: {ent} has no field '{fname}'", *mpath)
        elif ck.fits(mt, name, ms, source.name, *mpath):
            match[tname] = sname
    if key in made:  # pragma: no cover - YAML keys are unique (CRM-E002)
        ck.error("CRM-E095", f"two targets named '{key}'", *path)
    made[key] = name
    lines = _lines(ck, body, source, target, made, path)
    return ConversionTargetDef(name=key, entity=name, fields=freeze(fields),
                               match=freeze(match), optional=bool(body.get("optional", False)),
                               lines=lines)


def _then(ck: _Checker, raw: Mapping[str, Any], source: EntityDef, made: Mapping[str, str]
          ) -> dict[str, Any]:
    from app.meta.stages import _value_problem

    out: dict[str, Any] = {}
    for fname, value in raw.items():
        path = ("then", "set", fname)
        f = source.fields.get(fname)
        if f is None:
            ck.error("CRM-E091", f"then: {source.name} has no field '{fname}'"
                                 f"{_hint(fname, source.fields)}", *path)
            continue
        if not settable(f):
            ck.error("CRM-E091", f"then: {source.name}.{fname} is a {f.type} field: its value "
                                 "is computed, a conversion cannot set it", *path)
            continue
        if isinstance(value, str) and value.startswith(REF):
            if not ck.ref(f, source.name, value, made, *path):
                continue
        elif value == NOW:
            if f.type not in ("datetime", "date"):
                ck.error("CRM-E096", f"then: '{NOW}' fits a date or datetime field, not "
                                     f"{source.name}.{fname} (a {f.type} field)", *path)
                continue
        else:
            problem = _value_problem(f, value)
            if problem:
                ck.error("CRM-E096", f"then: {value!r} does not fit {source.name}.{fname}: "
                                     f"{problem}", *path)
                continue
        out[fname] = value
    return out


def _conversion(name: str, body: dict[str, Any], doc: Any, meta: Meta,
                errors: list[ConfigError]) -> ConversionDef | None:
    from app.fields import registry
    from app.meta.checks import check_expression, expr_kinds

    ck = _Checker(name, doc, meta, errors)
    missing = [k for k in ("from", "creates") if k not in body]
    for key in missing:
        errors.append(ConfigError("CRM-E012", f"{ck.what} needs `{key}`", ck.at(ck.base)))
    if missing:
        return None
    source = ck.entity(str(body["from"]), "from")
    if source is None:
        return None
    when = body.get("when")
    if when:
        errs, _names = check_expression(f"{ck.what} when", str(when),
                                        expr_kinds(source, registry),
                                        ck.at((*ck.base, "when")))
        errors.extend(errs)
    made: dict[str, str] = {SOURCE: source.name}
    targets = [_target(ck, key, tbody or {}, source, made)
               for key, tbody in (body.get("creates") or {}).items()]
    then = _then(ck, (body.get("then") or {}).get("set") or {}, source, made)
    return ConversionDef(name=name, entity=source.name,
                         targets=tuple(t for t in targets if t is not None),
                         when=str(when) if when else None,
                         label=freeze(dict(body.get("label") or {})), then=freeze(then),
                         source=ck.at(ck.base), repeatable=bool(body.get("repeatable", False)))


def check_conversions(merged: Mapping[str, tuple[dict[str, Any], Any]], meta: Meta,
                      errors: list[ConfigError]) -> dict[str, ConversionDef]:
    """The merged `conversions:` bodies (name -> (body, document)) checked against `meta`."""
    out: dict[str, ConversionDef] = {}
    for name, (body, doc) in merged.items():
        conv = _conversion(name, body, doc, meta, errors)
        if conv is not None:
            out[name] = conv
    return out


# --- snapshot ----------------------------------------------------------------------------------
def conversions_to_dict(convs: Mapping[str, ConversionDef]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in convs.values():
        creates: dict[str, Any] = {}
        for t in c.targets:
            item: dict[str, Any] = {"entity": t.entity, "fields": dict(t.fields)}
            if t.match:
                item["match"] = dict(t.match)
            if t.optional:
                item["optional"] = True
            if t.lines:
                item["lines"] = [_lines_to_dict(ln) for ln in t.lines]
            creates[t.name] = item
        body: dict[str, Any] = {"from": c.entity, "creates": creates}
        if c.when:
            body["when"] = c.when
        if c.label:
            body["label"] = thaw(c.label)
        if c.then:
            body["then"] = {"set": thaw(c.then)}
        if c.repeatable:
            body["repeatable"] = True
        out[c.name] = body
    return out


def _lines_to_dict(ln: ConversionLinesDef) -> dict[str, Any]:
    out: dict[str, Any] = {"from": ln.from_entity, "via": ln.via, "to": ln.to_entity,
                           "link": ln.link, "fields": dict(ln.fields)}
    if ln.order:
        out["order"] = ln.order
    return out


def _lines_from_dict(d: Mapping[str, Any]) -> ConversionLinesDef:
    return ConversionLinesDef(from_entity=d["from"], via=d["via"], to_entity=d["to"],
                              link=d["link"], order=d.get("order"),
                              fields=freeze(d.get("fields") or {}))


def conversions_from_dict(data: Mapping[str, Any], src: Source) -> dict[str, ConversionDef]:
    out: dict[str, ConversionDef] = {}
    for name, d in data.items():
        targets = tuple(ConversionTargetDef(name=k, entity=t["entity"],
                                            fields=freeze(t.get("fields") or {}),
                                            match=freeze(t.get("match") or {}),
                                            optional=bool(t.get("optional", False)),
                                            lines=tuple(_lines_from_dict(ln)
                                                        for ln in t.get("lines") or ()))
                        for k, t in (d.get("creates") or {}).items())
        out[name] = ConversionDef(name=name, entity=d["from"], targets=targets,
                                  when=d.get("when"), label=freeze(d.get("label") or {}),
                                  then=freeze((d.get("then") or {}).get("set") or {}),
                                  source=src, repeatable=bool(d.get("repeatable", False)))
    return out
