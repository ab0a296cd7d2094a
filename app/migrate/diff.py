"""Compare the live database and the active config with a new config, and plan the change.

The plan is data-aware: it counts the rows each step touches, tries every stored value against a
new field type and lists the ones that would not convert, finds picklist values left orphaned,
and refuses (unsupported) what would lose data. Removing a field hides it; only `purge` drops.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.fields import registry
from app.fields.base import FieldValueError
from app.fields.numbers import to_decimal
from app.meta.snapshot import field_to_dict
from app.meta.types import SYSTEM_COLUMNS, EntityDef, FieldDef, Meta
from app.migrate.steps import DESTRUCTIVE, SAFE, UNSUPPORTED, Plan, Step

MAX_LISTED = 10
#: what ON DELETE means, for plan summaries
ON_DELETE_SHOWN = {"SET NULL": "the link is cleared", "RESTRICT": "deleting it is refused",
                   "CASCADE": "this record is deleted too"}


def shown_sql(sql: sa.types.TypeEngine[Any]) -> str:
    """`(18, 2)` of a numeric column, `(80)` of a string one; empty for other types."""
    if isinstance(sql, sa.Numeric) and sql.precision is not None:
        return f"({sql.precision}, {sql.scale or 0})"
    length = getattr(sql, "length", None)
    return f"({length})" if length else ""


def misfit(sql: sa.types.TypeEngine[Any], value: Any, converted: Any) -> str | None:
    """Why a converted value would not fit its new column unchanged (None when it fits):
    text longer than the column, a number with more decimal places than its scale (it would
    be rounded) or more digits before the point than its precision leaves."""
    length = getattr(sql, "length", None)
    if isinstance(converted, str) and isinstance(sql, sa.String) and length:
        if len(converted) > length:
            return f"{len(converted)} characters, longer than {length}"
        return None
    if not isinstance(converted, Decimal) or not isinstance(sql, sa.Numeric) or \
            isinstance(sql, sa.Float):
        return None
    scale = sql.scale or 0
    try:
        exact = to_decimal(value)
    except FieldValueError:
        exact = converted
    if exact != converted:
        return f"more than {scale} decimal places; it would become {converted}"
    if sql.precision is not None and abs(converted) >= Decimal(10) ** (sql.precision - scale):
        return (f"too large: at most {sql.precision - scale} digits before the decimal "
                "point")
    return None


def column_of(f: FieldDef) -> str | None:
    ftype = registry.get(f.type)
    return ftype.column_name(f) if ftype.has_column else None


def reference(f: FieldDef) -> tuple[str, str, str] | None:
    """(entity it points at, table of its foreign key, ON DELETE) of a lookup-like field."""
    ftype = registry.get(f.type)
    target, table, ondelete = (getattr(ftype, name, None)
                               for name in ("target", "target_table", "ondelete"))
    if target is None or table is None or ondelete is None or not ftype.has_column:
        return None
    return str(target(f)), str(table(f)), str(ondelete(f))


def wanted_indexes(e: EntityDef) -> dict[str, tuple[str, bool]]:
    """index name -> (column, unique) for the fields of `e` (see model.build.entity_table)."""
    from app.model.build import index_name

    out: dict[str, tuple[str, bool]] = {}
    for f in e:
        col = column_of(f)
        if col is None:
            continue
        unique = f.unique or f.type == "autonumber"
        if unique or f.indexed or f.type in ("lookup", "master_detail", "user"):
            out[index_name(e.table, col, unique)] = (col, unique)
    return out


class LiveSchema:
    """Columns and indexes of every entity table, read in one pass (a query per table would
    make planning a 200-entity config take a second on PostgreSQL)."""

    def __init__(self, conn: sa.Connection) -> None:
        insp = sa.inspect(conn)
        self.tables = set(insp.get_table_names())
        names = sorted(t for t in self.tables if t.startswith("ent_"))
        self.columns: dict[str, list[Any]] = {}
        self.indexes: dict[str, list[Any]] = {}
        if names:
            for (_, table), cols in insp.get_multi_columns(filter_names=names).items():
                self.columns[table] = list(cols)
            for (_, table), idx in insp.get_multi_indexes(filter_names=names).items():
                self.indexes[table] = list(idx)


class EntityDiff:
    def __init__(self, conn: sa.Connection, old: EntityDef | None, new: EntityDef,
                 meta: Meta, purge: bool, live: LiveSchema) -> None:
        self.conn, self.old, self.new, self.meta, self.purge = conn, old, new, meta, purge
        self.table = new.table
        self.live = {c["name"]: c for c in live.columns.get(self.table, [])}
        self.live_indexes = {i["name"]: i for i in live.indexes.get(self.table, [])
                             if i["name"]}
        self._rows: int | None = None
        self.steps: list[Step] = []
        #: live columns a reverted rename takes back (not hidden)
        self.renamed_back: set[str] = set()

    @property
    def rows(self) -> int:
        if self._rows is None:
            self._rows = self.conn.execute(
                sa.select(sa.func.count()).select_from(sa.table(self.table))).scalar_one()
        return self._rows

    def _count(self, where: str) -> int:
        return int(self.conn.exec_driver_sql(
            f'SELECT count(*) FROM "{self.table}" WHERE {where}').scalar_one())

    def step(self, op: str, summary: str, **kw: Any) -> Step:
        s = Step(op=op, entity=self.new.name, summary=summary, **kw)
        self.steps.append(s)
        return s

    # -- per field -------------------------------------------------------------------------
    def run(self) -> list[Step]:
        renamed_from = {f.renamed_from for f in self.new if f.renamed_from}
        for f in self.new:
            col = column_of(f)
            if col is not None:
                self.field(f, col)
        old_fields = {column_of(f): f for f in (self.old or []) if column_of(f)}
        new_cols = {column_of(f) for f in self.new} - {None}
        for col in self.live:
            if col in SYSTEM_COLUMNS or col in new_cols:
                continue
            oldf = old_fields.get(col)
            if (oldf is not None and oldf.name in renamed_from) or col in self.renamed_back:
                continue
            if any(self._old_column_for_rename(f) == col for f in self.new if f.renamed_from):
                continue
            self.removed(col, oldf)
        self.indexes()
        return self.steps

    def _old_column_for_rename(self, f: FieldDef) -> str | None:
        if not f.renamed_from:
            return None
        prev = self.old.fields.get(f.renamed_from) if self.old else None
        if prev is not None:
            return column_of(prev)
        return f.renamed_from + ("_id" if f.type in ("lookup", "master_detail", "user") else "")

    def _renamed_away(self, f: FieldDef) -> FieldDef | None:
        """The live field renamed from `f` when `f` is back under its old name (a revert to
        the config before the rename): its column holds `f`'s values."""
        for g in self.old or []:
            col = column_of(g)
            if g.renamed_from == f.name and g.name not in self.new.fields and col in self.live:
                return g
        return None

    def field(self, f: FieldDef, col: str) -> None:
        oldf = self.old.fields.get(f.name) if self.old else None
        if col not in self.live:
            old_col = self._old_column_for_rename(f)
            prev = self.old.fields.get(f.renamed_from or "") if self.old else None
            if not (old_col and old_col in self.live):
                prev = self._renamed_away(f)
                old_col = column_of(prev) if prev is not None else None
                if old_col:
                    self.renamed_back.add(old_col)
            if old_col and old_col in self.live:
                self.step("rename_column", f"rename {self.new.name}."
                          f"{prev.name if prev is not None else f.renamed_from} to "
                          f"{f.name} (data kept)", column=col, rows=self.rows,
                          data={"old_column": old_col})
                if prev is not None and (prev.encrypted or f.encrypted):
                    self.encryption(prev, f, col, source=old_col)
                elif prev is not None and (prev.type != f.type or self._resized(prev, f)):
                    self.convert(prev, f, col, source=old_col)
                if prev is not None:
                    self.retarget(prev, f, col, source=old_col)
                return
            self.add(f, col)
            return
        if oldf is None:
            self.step("restore_column", f"show {self.new.name}.{f.name} again: its column was "
                      "kept when it was removed, with its data", column=col, rows=self.rows,
                      data={"field": field_to_dict(f)})
        if oldf is not None and (oldf.encrypted or f.encrypted):
            self.encryption(oldf, f, col)  # ciphertext: no length or type checks here
        elif oldf is not None and (oldf.type != f.type or self._resized(oldf, f)):
            self.convert(oldf, f, col)
        elif oldf is None:
            if not f.encrypted:  # ciphertext cannot be checked against the type
                self.convert(None, f, col, only_check=True)
        elif f.type == "string" and (f.max_length or 255) < (oldf.max_length or 255):
            self.shorten(f, col, oldf)
        elif f.type == "string" and (f.max_length or 255) > (oldf.max_length or 255):
            self.step("alter_length", f"lengthen {self.new.name}.{f.name} to "
                      f"{f.max_length or 255} characters", column=col, rows=self.rows,
                      data={"field": field_to_dict(f)})
        if oldf is not None:
            self.retarget(oldf, f, col)
        if f.type in ("picklist", "multi_picklist") and oldf is not None:
            self.orphans(oldf, f, col)
        if f.required and (oldf is None or not oldf.required) and self.rows:
            empty = self._count(f'"{col}" IS NULL')
            if empty:
                s = self.step("note", f"{self.new.name}.{f.name} becomes required", column=col,
                              rows=empty)
                s.warnings.append(f"{empty} existing rows have no {f.name}; they keep working "
                                  "but need a value at their next edit")

    def add(self, f: FieldDef, col: str) -> None:
        data: dict[str, Any] = {"field": field_to_dict(f)}
        summary = f"add {f.type} field {self.new.name}.{f.name}"
        safety, problems = SAFE, []
        if f.type == "rollup":
            data["backfill"] = "rollup"
            summary += ", computed for existing rows"
        elif f.type == "autonumber":  # backfills are recorded even for empty tables, so a
            data["backfill"] = "autonumber"  # replay on a database with rows fills them too
            summary += ", numbered for existing rows in creation order"
        elif f.default is not None:
            data["backfill"] = "default"
            summary += f", existing rows set to the default {f.default!r}"
        elif f.default_expr and f.encrypted and self.rows:
            safety = UNSUPPORTED
            problems.append(f"{f.name} is encrypted: an expression default cannot fill the "
                            f"{self.rows} existing rows; add it without the default first")
        elif f.default_expr:
            data["backfill"] = "default_expr"
            summary += f", existing rows set to {f.default_expr}"
        elif f.required and self.rows:
            safety = UNSUPPORTED
            problems.append(
                f"{f.name} is required and {self.table} has {self.rows} rows: give it a "
                "`default:` to fill them, or add it as optional, fill it, then make it required")
        self.step("add_column", summary, column=col, rows=self.rows if self.rows else 0,
                  safety=safety, problems=problems, data=data)

    def _resized(self, oldf: FieldDef, f: FieldDef) -> bool:
        """The same type stored in another numeric column (decimal precision or scale)."""
        old_sql, new_sql = registry.get(oldf.type).sa_type(oldf), registry.get(f.type).sa_type(f)
        dialect = self.conn.dialect
        return (oldf.type == f.type and isinstance(old_sql, sa.Numeric)
                and isinstance(new_sql, sa.Numeric)
                and old_sql.compile(dialect=dialect) != new_sql.compile(dialect=dialect))

    def convert(self, oldf: FieldDef | None, f: FieldDef, col: str, only_check: bool = False,
                source: str | None = None) -> None:
        """Try every stored value (of `source`, the live column, default `col`) against the
        new type; unless `only_check`, also that it fits the new column (length, decimal
        places, digits), so nothing is cut or rounded."""
        ftype = registry.get(f.type)
        sql = ftype.sa_type(f)
        bad: list[str] = []
        bad_rows = misfits = 0
        source = source or col
        result = self.conn.exec_driver_sql(
            f'SELECT "{source}", count(*), min(id) FROM "{self.table}" '
            f'WHERE "{source}" IS NOT NULL GROUP BY "{source}"')
        for value, count, first_id in result:
            try:
                converted = ftype.to_python(f, value)
                why = None if only_check else misfit(sql, value, converted)
            except (FieldValueError, ValueError, TypeError) as exc:
                why = str(exc)
            else:
                misfits += count if why else 0
            if why:
                bad_rows += count
                if len(bad) < MAX_LISTED:
                    bad.append(f"row id {first_id}: {value!r} ({why})"
                               + (f" and {count - 1} more rows" if count > 1 else ""))
        src = oldf.type if oldf else "the kept column"
        if oldf is not None and oldf.type == f.type:
            src = f"{src} {shown_sql(registry.get(oldf.type).sa_type(oldf))}"
            target = f"{f.type} {shown_sql(sql)}"
        else:
            target = f.type
        if bad_rows:
            what = (f"are not a valid {f.type}" if not misfits else
                    f"would be cut or rounded as {target}" if misfits == bad_rows else
                    f"are not a valid {f.type} or would be cut or rounded")
            self.step("convert_column", f"change {self.new.name}.{f.name} from {src} to "
                      f"{target}", column=col, rows=bad_rows, safety=UNSUPPORTED,
                      problems=[f"{bad_rows} rows hold values that {what}; fix them first:",
                                *bad])
            return
        if only_check:
            return
        old_sql = registry.get(oldf.type).sa_type(oldf) if oldf else None
        dialect = self.conn.dialect
        same_sql = old_sql is not None and (
            old_sql.compile(dialect=dialect) == sql.compile(dialect=dialect))
        self.step("convert_column", f"change {self.new.name}.{f.name} from {src} to {target}"
                  + (" (same storage, no rewrite)" if same_sql else ", every value converted"),
                  column=col, rows=self.rows,
                  data={"field": field_to_dict(f), "rewrite": not same_sql})

    def retarget(self, oldf: FieldDef, f: FieldDef, col: str, source: str | None = None
                 ) -> None:
        """A lookup pointed at another entity (or given another `on_delete`): its foreign key
        is rebuilt. Rows that hold a link would silently point at the new entity's record
        with the same id, so that is refused while any row holds one."""
        was, now = reference(oldf), reference(f)
        if was is None or now is None or was[1:] == now[1:]:
            return
        name = f"{self.new.name}.{f.name}"
        data = {"field": field_to_dict(f)}
        if was[1] == now[1]:
            self.step("alter_foreign_key", f"{name}: {ON_DELETE_SHOWN.get(now[2], now[2])} "
                      f"when its {now[0]} record is deleted", column=col, data=data)
            return
        source = source or col
        filled = self._count(f'"{source}" IS NOT NULL') if self.rows else 0
        summary = f"point {name} at {now[0]} records instead of {was[0]} records"
        if filled:
            self.step("alter_foreign_key", summary, column=col, rows=filled,
                      safety=UNSUPPORTED,
                      problems=[f"{filled} rows point at {was[0]} records; they would point at "
                                f"whatever {now[0]} record has the same id. Clear them first, "
                                f"or add a new field for {now[0]}"])
            return
        self.step("alter_foreign_key", f"{summary} (no row holds a link, so none is lost)",
                  column=col, rows=0, data=data)

    def encryption(self, oldf: FieldDef, f: FieldDef, col: str, source: str | None = None
                   ) -> None:
        """`encrypted` turned on or off: every stored value is encrypted or decrypted in the
        apply step (with the deployment's key, app/crypto.py). A type change at the same
        time cannot check the values, so it is refused."""
        name = f"{self.new.name}.{f.name}"
        if oldf.type != f.type:
            self.step("convert_column", f"change {name} from {oldf.type} to {f.type}",
                      column=col, rows=self.rows, safety=UNSUPPORTED,
                      problems=[f"{name} is encrypted: change its type and its encryption in "
                                "two steps (remove `encrypted`, migrate, change the type, "
                                "migrate, encrypt again)"])
            return
        if oldf.encrypted == f.encrypted:
            return
        filled = self._count(f'"{source or col}" IS NOT NULL') if self.rows else 0
        if f.encrypted:
            self.step("encrypt_column", f"encrypt {name}: its {filled} values are encrypted "
                      "with the current key (CRM_ENCRYPTION_KEY)", column=col, rows=filled,
                      data={"field": field_to_dict(f)})
        else:
            self.step("decrypt_column", f"decrypt {name}: its {filled} values are stored in "
                      "clear from now on", column=col, rows=filled,
                      data={"field": field_to_dict(f)})

    def shorten(self, f: FieldDef, col: str, oldf: FieldDef) -> None:
        limit = f.max_length or 255
        too_long = self._count(f'length("{col}") > {int(limit)}')
        if too_long:
            self.step("alter_length", f"shorten {self.new.name}.{f.name} to {limit} characters",
                      column=col, rows=too_long, safety=UNSUPPORTED,
                      problems=[f"{too_long} rows are longer than {limit} characters and would "
                                "be cut"])
        else:
            self.step("alter_length", f"shorten {self.new.name}.{f.name} to {limit} characters",
                      column=col, rows=self.rows, data={"field": field_to_dict(f)})

    def orphans(self, oldf: FieldDef, f: FieldDef, col: str) -> None:
        gone = {c.value for c in oldf.choices} - {c.value for c in f.choices}
        if not gone or f.type != "picklist":
            return
        counts = self.conn.execute(
            sa.text(f'SELECT "{col}", count(*) FROM "{self.table}" WHERE "{col}" IN '
                    f'({", ".join(f":v{i}" for i in range(len(gone)))}) GROUP BY "{col}"'),
            {f"v{i}": v for i, v in enumerate(sorted(gone))}).all()
        if counts:
            s = self.step("note", f"picklist {self.new.name}.{f.name} loses values "
                          f"{', '.join(sorted(gone))}", column=col, rows=sum(c for _, c in counts))
            for value, count in counts:
                s.warnings.append(f"{count} rows keep the orphaned value '{value}' (shown as "
                                  "is; edit them or restore the choice)")

    def removed(self, col: str, oldf: FieldDef | None) -> None:
        name = oldf.name if oldf else col
        filled = self._count(f'"{col}" IS NOT NULL') if self.rows else 0
        if self.purge:
            self.step("drop_column", f"PURGE column {self.table}.{col}: its data is deleted "
                      "(a backup copy is taken first)", column=col, rows=filled,
                      safety=DESTRUCTIVE)
        elif oldf is not None:
            nullable = self.live[col].get("nullable", True)
            self.step("hide_column", f"hide {self.new.name}.{name}: the column and its {filled} "
                      "values are kept (purge drops them)", column=col, rows=filled,
                      data={"make_nullable": not nullable})

    def indexes(self) -> None:
        wanted = wanted_indexes(self.new)
        live_cols = set(self.live)
        for name, (col, unique) in wanted.items():
            if name in self.live_indexes:
                continue
            if unique and self.rows and (col in live_cols):
                dups = self.conn.exec_driver_sql(
                    f'SELECT "{col}", count(*) FROM "{self.table}" WHERE "{col}" IS NOT NULL '
                    f'GROUP BY "{col}" HAVING count(*) > 1').all()
                if dups:
                    self.step("create_index", f"make {self.new.name}.{col} unique", column=col,
                              rows=sum(c for _, c in dups), safety=UNSUPPORTED,
                              problems=[f"{len(dups)} values appear more than once, for example "
                                        + ", ".join(repr(v) for v, _ in dups[:MAX_LISTED])])
                    continue
            self.step("create_index", f"{'unique ' if unique else ''}index on "
                      f"{self.new.name}.{col}", column=col,
                      data={"name": name, "unique": unique})
        for name, info in self.live_indexes.items():
            if name.startswith(("ix_", "uq_")) and name not in wanted and \
                    not name.endswith(("_owner_id", "_deleted_at")):
                cols = info.get("column_names") or []
                new_cols = {column_of(f) for f in self.new}
                if not cols or cols[0] not in new_cols:
                    continue  # a hidden column keeps its index; a purge drops both together
                self.step("drop_index", f"drop index {name}", column=cols[0] if cols else None,
                          data={"name": name})


def make_plan(
    conn: sa.Connection, old: Meta | None, new: Meta, *, base_version: int | None,
    purge: bool = False,
) -> Plan:
    live = LiveSchema(conn)
    live_tables = live.tables
    steps: list[Step] = []
    for e in new:
        if e.table not in live_tables:
            steps.append(Step("create_table", e.name, f"create entity {e.name} (table {e.table},"
                              f" {len(e.fields)} fields)",
                              data={"fields": {f.name: f.type for f in e}}))
            continue
        old_e = old.entities.get(e.name) if old else None
        steps.extend(EntityDiff(conn, old_e, e, new, purge, live).run())
    for table in sorted(live_tables):
        if not table.startswith("ent_") or table[4:] in new.entities:
            continue
        entity = table[4:]
        rows = conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()
        if purge:
            steps.append(Step("drop_table", entity, f"PURGE entity {entity}: table {table} and "
                              "its data are deleted (a backup copy is taken first)", rows=rows,
                              safety=DESTRUCTIVE))
        elif old is not None and entity in old.entities:
            steps.append(Step("hide_table", entity, f"hide entity {entity}: table {table} and "
                              f"its {rows} rows are kept (purge drops them)", rows=rows))
    return Plan(steps=steps, base_version=base_version,
                base_digest=old.digest if old else None, target_digest=new.digest, purge=purge)
