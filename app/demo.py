"""Demo data for the default CRM pack: realistic, repeatable, and loaded straight into the tables.

`generate` builds plain rows from the metadata; `load_demo` inserts them in one caller-owned
transaction. The per-entity knowledge (what a Chinese account or a won deal looks like) lives in
`app.demo_values`; everything here is generic and driven by the meta, so an overlay that removes a
field, narrows a picklist or adds a required field still loads:

* only fields the meta has are written (builders may produce more);
* a picklist value the meta does not offer is replaced, numbers are clamped to `min`/`max`, text is
  cut to `max_length`, a value that misses the field's `pattern` is dropped;
* literal `default`s are applied to fields the builder left out, and required fields nobody filled
  (say, one an overlay added) get a generic value of their type;
* entities the builders do not know get a few generic rows.

Rows are keyed by column name (`account_id` for the lookup `account`, `billing_city` for the
address block `billing`). A lookup value is a `Ref(entity, row)` into that entity's generated
list; `Ref("user", 0)` stands for the demo user (`owner_id` of `load_demo`): `user` is a reserved
word, so no entity can have that name. Formulas and rollups are not generated. Autonumbers get
values in their format, numbered in `created_at` order; `load_demo` renumbers them to continue the
app's counters (`sys_sequence`) and advances those, so numbers never collide with real records.
Rollups are computed after the insert with the model's own correlated subqueries
(`app.model.rollup`), `where` clauses included.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from faker import Faker

from app.fields import registry
from app.fields.choices import choices_of
from app.fields.computed import autonumber_scope, format_autonumber
from app.meta.types import EntityDef, FieldDef, Meta, table_name
from app.model.system import sequence_key, sequences

#: field types whose value is a `Ref` (stored in `<name>_id`)
REFERENCE_TYPES = frozenset({"lookup", "master_detail", "user"})
#: field types with no value to generate (autonumbers are numbered separately)
COMPUTED_TYPES = frozenset({"formula", "rollup", "autonumber"})
NUMBER_TYPES = frozenset({"integer", "decimal", "currency", "percent"})
#: the pseudo-entity a `Ref` uses for the demo user (`user` is reserved, never an entity name)
USER = "user"
BATCH = 500
#: entities whose demo rows are made after the demo users, not here (app/targets/demo.py)
AFTER_USERS = frozenset({"sales_target"})


class Ref(NamedTuple):
    """A lookup to row number `row` of `entity`'s generated list, made an id by `load_demo`."""

    entity: str
    row: int


Rows = dict[str, list[dict[str, Any]]]


def column_name(f: FieldDef) -> str:
    """The column that stores field `f` (`account_id` for the lookup `account`)."""
    return registry.get(f.type).column_name(f)


def has_column(f: FieldDef) -> bool:
    return registry.get(f.type).has_column


def choice_values(f: FieldDef) -> list[str]:
    """The values of a picklist's (or tags field's) choices."""
    return [c.value for c in choices_of(f)]


# --- generate ------------------------------------------------------------------------------


def generate(
    meta: Meta, *, seed: int = 42, scale: int = 1, now: datetime | None = None
) -> Rows:
    """Demo rows for every entity of `meta`, keyed by column name; the same for the same seed,
    scale and `now` (default: the current UTC minute)."""
    from app import demo_values

    now = now or datetime.now(UTC).replace(second=0, microsecond=0)
    rnd = random.Random(seed)
    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(seed)
    en.seed_instance(seed + 1)
    ctx = demo_values.Ctx(meta=meta, rnd=rnd, zh=zh, en=en, now=now, scale=max(1, scale))
    raw = demo_values.build_all(ctx)
    for name in meta.entities:  # entities an overlay added: a few generic rows
        if name in AFTER_USERS:  # made once the demo users exist (crm setup)
            raw.setdefault(name, [])
        if name not in raw:
            raw[name] = [{"created_at": ctx.created()} for _ in range(ctx.n(10))]
    sizes = {name: len(rows) for name, rows in raw.items() if name in meta.entities}
    out: Rows = {}
    for name, entity in meta.entities.items():
        out[name] = [
            _conform(entity, row, sizes, random.Random(f"{seed}:{name}:{i}"), now)
            for i, row in enumerate(raw[name])
        ]
        number_rows(entity, out[name])
    return out


def _conform(
    entity: EntityDef,
    row: Mapping[str, Any],
    sizes: Mapping[str, int],
    rnd: random.Random,
    now: datetime,
) -> dict[str, Any]:
    """One builder row made to fit the meta: known fields only, every column present."""
    created = row.get("created_at") or now
    out: dict[str, Any] = {}
    for f in entity:
        if f.type in COMPUTED_TYPES or not has_column(f):
            continue
        if f.name in row:
            value = row[f.name]
        elif f.default is not None:
            value = f.default
        elif (f.required or f.type == "master_detail") and not f.visible_when:
            value = generic_value(f, rnd, sizes, now)
        else:
            value = None
        out[column_name(f)] = _fit(f, value, rnd, sizes)
    out["created_at"] = created
    out["updated_at"] = max(row.get("updated_at") or created, created)
    return out


def _fit(f: FieldDef, value: Any, rnd: random.Random, sizes: Mapping[str, int]) -> Any:
    """`value` made valid for `f` (or None when it cannot be)."""
    if value is None:
        return None
    if f.type in REFERENCE_TYPES:
        if not isinstance(value, Ref):
            return None
        if f.type == "user":
            return value if value.entity == USER else None
        ok = value.entity == f.opt("to") and value.row < sizes.get(value.entity, 0)
        return value if ok else None
    if f.type == "picklist":
        values = choice_values(f)
        if value in values:
            return value
        return rnd.choice(values) if values and f.required else None
    if f.type == "multi_picklist":
        return [v for v in value if v in choice_values(f)]
    if f.type in NUMBER_TYPES:
        lo, hi = f.min, f.max
        if f.type == "percent":
            lo, hi = max(lo or 0, 0), min(100 if hi is None else hi, 100)
        if lo is not None and value < lo:
            value = type(value)(lo) if not isinstance(value, Decimal) else Decimal(str(lo))
        if hi is not None and value > hi:
            value = type(value)(hi) if not isinstance(value, Decimal) else Decimal(str(hi))
        return value
    if isinstance(value, str):
        limit = f.max_length or (255 if f.type == "string" else None)
        if limit is not None:
            value = value[:limit]
        if f.pattern and not re.search(f.pattern, value):
            return None
    return value


_WORDS = ("alpha", "delta", "nova", "prime", "core", "smart", "cloud", "data", "link", "flow",
          "blue", "green", "sun", "star", "river", "lake", "peak", "stone", "bright", "swift")


def generic_value(
    f: FieldDef, rnd: random.Random, sizes: Mapping[str, int], now: datetime
) -> Any:
    """A plausible value of `f`'s type, for fields no builder knows (overlays, plugins)."""
    t = f.type
    lo = f.min if f.min is not None and t in NUMBER_TYPES else 0
    hi = f.max if f.max is not None and t in NUMBER_TYPES else (100 if t == "percent" else 1000)
    if t in {"string", "text", "rich_text"}:
        words = " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(1, 3))).capitalize()
        return f"<p>{words}</p>" if t == "rich_text" else words
    if t == "integer":
        return rnd.randint(int(lo), int(hi))
    if t in {"decimal", "currency", "percent"}:
        return Decimal(str(round(rnd.uniform(float(lo), float(hi)), 2)))
    if t == "boolean":
        return rnd.random() < 0.5
    if t == "date":
        return (now - timedelta(days=rnd.randint(0, 365))).date()
    if t == "datetime":
        return now - timedelta(minutes=rnd.randint(0, 525600))
    if t == "time":
        return time(rnd.randint(8, 18), rnd.choice((0, 15, 30, 45)))
    if t == "email":
        return f"{rnd.choice(_WORDS)}{rnd.randint(1, 999)}@example.com"
    if t == "phone":
        return f"+86 10 {rnd.randint(60000000, 89999999)}"
    if t == "url":
        return f"https://www.example.com/{rnd.choice(_WORDS)}"
    if t in {"picklist", "multi_picklist", "tags"}:
        values = choice_values(f)
        if t == "picklist":
            return rnd.choice(values) if values else None
        return rnd.sample(values, k=min(len(values), rnd.randint(0, 2)))
    if t in {"lookup", "master_detail"}:
        size = sizes.get(str(f.opt("to")), 0)
        return Ref(str(f.opt("to")), rnd.randrange(size)) if size else None
    if t == "user":
        return Ref(USER, 0)
    if t == "json":
        return {}
    return None


def number_rows(
    entity: EntityDef,
    rows: list[dict[str, Any]],
    start: Callable[[str], int] = lambda scope: 0,
) -> dict[str, int]:
    """Give every autonumber field of `rows` its values, in `created_at` order, with the app's
    counters: one per scope (`QUO-2025-{0000}` for `QUO-{YYYY}-{0000}`), continuing from
    `start(scope)`. Returns the last counter per scope (`sys_sequence` keys)."""
    last: dict[str, int] = {}
    order = sorted(range(len(rows)), key=lambda i: rows[i]["created_at"])
    for f in entity:
        if f.type != "autonumber":
            continue
        fmt, col = str(f.opt("format")), column_name(f)
        for i in order:
            when = rows[i]["created_at"].date()
            scope = sequence_key(entity.table, col, autonumber_scope(fmt, when))
            last[scope] = (last[scope] if scope in last else start(scope)) + 1
            rows[i][col] = format_autonumber(fmt, last[scope], when)
    return last


# --- load ----------------------------------------------------------------------------------


def insert_order(meta: Meta) -> list[str]:
    """Entities with the targets of their lookups first (Kahn's algorithm; self lookups ignored,
    cycles broken in name order: their lookups are filled by the second pass)."""
    deps: dict[str, set[str]] = {
        name: {
            str(f.opt("to"))
            for f in entity
            if f.type in {"lookup", "master_detail"}
            and f.opt("to") in meta.entities
            and f.opt("to") != name
        }
        for name, entity in meta.entities.items()
    }
    order: list[str] = []
    while deps:
        ready = sorted(n for n, d in deps.items() if not d) or [min(deps)]
        for n in ready:
            order.append(n)
            deps.pop(n)
        for d in deps.values():
            d.difference_update(ready)
    return order


def load_demo(
    conn: sa.Connection,
    meta: Meta,
    tables: Mapping[str, sa.Table],
    *,
    seed: int = 42,
    scale: int = 1,
    owner_id: int | None = None,
    now: datetime | None = None,
    formulas: Mapping[str, Mapping[str, sa.ColumnElement[Any]]] | None = None,
) -> dict[str, int]:
    """Insert the demo rows of `generate` into `tables` (keyed by entity or table name) and
    compute the rollups. Returns the rows inserted per entity. Does not commit.

    `owner_id` owns, creates and is assigned every record (it must be a `sys_user` id, or None).
    `formulas` is `Models.formulas` when the caller has it; else it is built from `tables`."""
    data = generate(meta, seed=seed, scale=scale, now=now)
    counters = sa.inspect(conn).has_table(sequences.name)
    ids: dict[str, list[int]] = {}
    later: list[tuple[str, int, str, Ref]] = []  # (entity, row index, column, target)
    order = [name for name in insert_order(meta) if name in data]
    for name in order:
        table = _table(tables, name)
        if counters:  # continue the app's autonumber counters, so numbers never collide
            last = number_rows(meta.entity(name), data[name], lambda scope: _counter(conn, scope))
            for scope, counter in last.items():
                conn.execute(sequences.delete().where(sequences.c.scope == scope))
                conn.execute(sequences.insert().values(scope=scope, value=counter))
        rows: list[dict[str, Any]] = []
        for i, row in enumerate(data[name]):
            out: dict[str, Any] = {"version": 1, "owner_id": owner_id, "created_by_id": owner_id,
                   "updated_by_id": owner_id, "deleted_at": None}
            for col, cell in row.items():
                if isinstance(cell, Ref):
                    if cell.entity == USER:
                        cell = owner_id
                    elif cell.entity in ids:
                        cell = ids[cell.entity][cell.row]
                    else:
                        later.append((name, i, col, cell))
                        cell = None
                out[col] = cell
            rows.append({k: v for k, v in out.items() if k in table.c})
        _seal(conn, meta.entity(name), rows)
        ids[name] = _insert(conn, table, rows)
    _second_pass(conn, tables, ids, later)
    for name in reversed(order):  # children before parents: rollups of rollups see fresh values
        update_rollups(conn, meta, tables, name, formulas)
    return {name: len(ids[name]) for name in order}


def _seal(conn: sa.Connection, entity: EntityDef, rows: list[dict[str, Any]]) -> None:
    """Encrypt the values of encrypted fields (app/crypto.py); without a key for this
    database they are left empty, never stored in clear."""
    from app import crypto

    secret = [column_name(f) for f in crypto.encrypted_fields(entity)]
    if not secret:
        return
    columns = {f.name: column_name(f) for f in entity}
    try:
        for row in rows:
            crypto.seal(entity, columns, row, crypto.keys_of(conn.engine))
    except crypto.EncryptionError:
        for row in rows:
            row.update(dict.fromkeys(c for c in secret if c in row))


def _counter(conn: sa.Connection, scope: str) -> int:
    value = conn.scalar(sa.select(sequences.c.value).where(sequences.c.scope == scope))
    return int(value or 0)


def _table(tables: Mapping[str, sa.Table], entity: str) -> sa.Table:
    table = tables.get(entity)
    if table is None:
        table = tables[table_name(entity)]
    return table


def _insert(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert in batches; the new ids in the order of `rows`."""
    ids: list[int] = []
    sorted_returning = conn.dialect.insert_executemany_returning_sort_by_parameter_order
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        if sorted_returning:
            stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            ids.extend(conn.execute(stmt, list(batch)).scalars().all())
        else:
            for row in batch:
                pk = conn.execute(table.insert(), row).inserted_primary_key
                ids.append(int(pk[0]) if pk else 0)
    return ids


def _second_pass(
    conn: sa.Connection,
    tables: Mapping[str, sa.Table],
    ids: Mapping[str, list[int]],
    later: Iterable[tuple[str, int, str, Ref]],
) -> None:
    """Lookups to rows inserted later (self lookups such as account.parent, and cycles)."""
    by_column: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name, i, col, ref in later:
        if ref.entity in ids:
            by_column.setdefault((name, col), []).append(
                {"b_id": ids[name][i], "b_value": ids[ref.entity][ref.row]}
            )
    for (name, col), params in by_column.items():
        table = _table(tables, name)
        stmt = (
            table.update()
            .where(table.c.id == sa.bindparam("b_id"))
            .values({col: sa.bindparam("b_value")})
        )
        conn.execute(stmt, params)


def update_rollups(
    conn: sa.Connection,
    meta: Meta,
    tables: Mapping[str, sa.Table],
    entity: str,
    formulas: Mapping[str, Mapping[str, sa.ColumnElement[Any]]] | None = None,
) -> None:
    """Set every rollup column of `entity` with one correlated UPDATE per rollup field (the
    model's own subquery, `where` included). Rollups whose child entity or `via` field an
    overlay removed are left alone."""
    from app.model.rollup import rollup_subquery

    parent = _table(tables, entity)
    for f in meta.entity(entity):
        child = meta.entities.get(str(f.opt("entity")))
        if f.type != "rollup" or f.name not in parent.c or child is None:
            continue
        if f.opt("via") not in child.fields:
            continue
        child_table = _table(tables, child.name)
        child_formulas = (formulas or {}).get(child.name)
        if child_formulas is None:
            child_formulas = formula_columns(child, child_table)
        value = rollup_subquery(f, parent, child, child_table, dict(child_formulas))
        conn.execute(parent.update().values({f.name: value}))


def formula_columns(entity: EntityDef, table: sa.Table) -> dict[str, sa.ColumnElement[Any]]:
    """The SQL of `entity`'s formula fields over `table` (what `Models.formulas` holds)."""
    from app.model.build import formula_columns as build_formulas

    return build_formulas(entity, table)
