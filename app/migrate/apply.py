"""Carry out plan steps on a connection inside the caller's transaction.

SQLite notes (see DESIGN.md): the caller has switched foreign keys off outside the transaction
and runs `PRAGMA foreign_key_check` before commit; a new column with a foreign key is added with
SQLite's own `ADD COLUMN ... REFERENCES` (no table rebuild, so children are never touched); only
dropping a foreign-key column rebuilds the table (Alembic batch mode).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from app import crypto
from app.expr import parse
from app.fields import registry
from app.fields.computed import autonumber_scope, format_autonumber
from app.meta.types import FieldDef, Meta
from app.migrate.steps import Step
from app.model.build import Models, index_name
from app.model.rollup import rollup_subquery
from app.model.system import sequence_key, sequences

BATCH = 2000


class Applier:
    def __init__(self, conn: sa.Connection, meta: Meta, models: Models) -> None:
        self.conn, self.meta, self.models = conn, meta, models
        self.ops = Operations(MigrationContext.configure(conn))
        self.sqlite = conn.dialect.name == "sqlite"
        self.stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        self.backups: list[str] = []

    def q(self, name: str) -> str:
        return self.conn.dialect.identifier_preparer.quote(name)

    def apply(self, steps: Sequence[Step]) -> None:
        creates = [self.models.table(s.entity) for s in steps if s.op == "create_table"]
        if creates:
            self.models.metadata.create_all(self.conn, tables=creates)
        for step in steps:
            if step.op != "create_table":
                getattr(self, f"op_{step.op}")(step)

    # -- helpers ---------------------------------------------------------------------------
    def field(self, step: Step) -> FieldDef:
        return self.meta.entities[step.entity].fields[self._field_name(step)]

    def _field_name(self, step: Step) -> str:
        for f in self.meta.entities[step.entity]:
            ftype = registry.get(f.type)
            if ftype.has_column and ftype.column_name(f) == step.column:
                return f.name
        raise KeyError(f"{step.entity} has no field stored in column {step.column}")

    def table_name(self, step: Step) -> str:
        return f"ent_{step.entity}"

    def _indexes_on(self, table: str, column: str) -> list[Any]:
        return [i for i in sa.inspect(self.conn).get_indexes(table)
                if column in (i.get("column_names") or [])]

    # -- operations ------------------------------------------------------------------------
    def op_add_column(self, step: Step) -> None:
        table = self.models.table(step.entity)
        col = table.c[step.column or ""]
        if self.sqlite and col.foreign_keys:
            fk = next(iter(col.foreign_keys))
            type_sql = col.type.compile(dialect=self.conn.dialect)
            ondelete = f" ON DELETE {fk.ondelete}" if fk.ondelete else ""
            self.conn.exec_driver_sql(
                f"ALTER TABLE {self.q(table.name)} ADD COLUMN {self.q(col.name)} {type_sql} "
                f"CONSTRAINT {self.q(str(fk.name or 'fk_' + table.name + '_' + col.name))} "
                f"REFERENCES {self.q(fk.column.table.name)} (id){ondelete}")
        else:
            new_col = col._copy()  # the copy leaves out the foreign key: it is added below
            new_col.index = None
            new_col.unique = None
            self.ops.add_column(table.name, new_col)
            for fk in col.foreign_keys:
                self.ops.create_foreign_key(str(fk.name), table.name, fk.column.table.name,
                                            [col.name], ["id"], ondelete=fk.ondelete)
        backfill = step.data.get("backfill")
        if backfill:
            self.backfill(step, table, backfill)

    def backfill(self, step: Step, table: sa.Table, how: str) -> None:
        f = self.field(step)
        col = table.c[step.column or ""]
        entity = self.meta.entities[step.entity]
        if how == "default":
            value = registry.get(f.type).to_python(f, f.default)
            if f.encrypted and isinstance(value, str) and self.conn.execute(
                    sa.select(table.c.id).limit(1)).first() is not None:
                value = self._keyed(lambda keys: keys.encrypt(value, f"{entity.name}.{f.name}"))
            self.conn.execute(sa.update(table).where(col.is_(None)).values({col.name: value}))
        elif how == "default_expr":
            columns = {g.name: table.c[registry.get(g.type).column_name(g)] for g in entity
                       if registry.get(g.type).has_column}
            sql = parse(f.default_expr or "", list(columns)).to_sql(columns)
            self.conn.execute(sa.update(table).where(col.is_(None)).values({col.name: sql}))
        elif how == "rollup":
            child = self.meta.entities[f.opt("entity")]
            sub = rollup_subquery(f, table, child, self.models.table(child.name),
                                  self.models.formulas.get(child.name))
            self.conn.execute(sa.update(table).values({col.name: sub}))
        elif how == "autonumber":
            self.number_rows(f, table, col)

    def number_rows(self, f: FieldDef, table: sa.Table, col: sa.Column[Any]) -> None:
        fmt = f.opt("format")
        counters: dict[str, int] = {}
        rows = self.conn.execute(
            sa.select(table.c.id, table.c.created_at).order_by(table.c.id)).all()
        for start in range(0, len(rows), BATCH):
            updates = []
            for rid, created in rows[start:start + BATCH]:
                when = (created or datetime.now(UTC)).date()
                scope = sequence_key(table.name, col.name, autonumber_scope(fmt, when))
                counters[scope] = counters.get(scope, 0) + 1
                updates.append({"b_id": rid, "b_val": format_autonumber(fmt, counters[scope],
                                                                        when)})
            self.conn.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id"))
                              .values({col.name: sa.bindparam("b_val")}), updates)
        for scope, value in counters.items():
            self.conn.execute(sa.delete(sequences).where(sequences.c.scope == scope))
            self.conn.execute(sa.insert(sequences).values(scope=scope, value=value))

    def op_rename_column(self, step: Step) -> None:
        table, old = self.table_name(step), step.data["old_column"]
        # indexes named after the old column go; the plan creates the new ones after this step
        for unique in (False, True):
            name = index_name(table, old, unique)
            if any(i["name"] == name for i in self._indexes_on(table, old)):
                self.ops.drop_index(name, table_name=table)
        new = self.q(step.column or "")
        self.conn.exec_driver_sql(
            f"ALTER TABLE {self.q(table)} RENAME COLUMN {self.q(old)} TO {new}")

    def op_alter_foreign_key(self, step: Step) -> None:
        """The foreign key of a lookup pointed at another entity (or given another ON DELETE)
        is rebuilt as the config's column has it. SQLite cannot alter a constraint: the table
        is rebuilt (batch mode), its foreign-key columns taken from the config, since SQLite's
        reflection loses the name and ON DELETE of keys added with ADD COLUMN."""
        table = self.models.table(step.entity)
        col = table.c[step.column or ""]
        fk = next(iter(col.foreign_keys))
        if self.sqlite:
            live = {c["name"]: c for c in sa.inspect(self.conn).get_columns(table.name)}
            keys = tuple(sa.Column(c.name, live[c.name]["type"], *(sa.ForeignKey(
                k.target_fullname, name=k.name, ondelete=k.ondelete) for k in c.foreign_keys),
                nullable=live[c.name]["nullable"]) for c in table.c
                if c.foreign_keys and c.name in live)
            with self.ops.batch_alter_table(table.name, recreate="always", reflect_args=keys):
                pass
            return
        for live_fk in sa.inspect(self.conn).get_foreign_keys(table.name):
            if live_fk["constrained_columns"] == [col.name] and live_fk.get("name"):
                self.ops.drop_constraint(str(live_fk["name"]), table.name, type_="foreignkey")
        self.ops.create_foreign_key(str(fk.name), table.name, fk.column.table.name, [col.name],
                                    ["id"], ondelete=fk.ondelete)

    def op_convert_column(self, step: Step) -> None:
        if not step.data.get("rewrite"):
            return
        f = self.field(step)
        ftype = registry.get(f.type)
        table_name, col = self.table_name(step), step.column or ""
        tmp = f"tmp_{col}"[:63]
        indexes = self._indexes_on(table_name, col)
        for idx in indexes:
            self.ops.drop_index(idx["name"], table_name=table_name)
        self.ops.add_column(table_name, sa.Column(tmp, ftype.sa_type(f)))
        src = sa.table(table_name, sa.column("id"), sa.column(col))
        dst = sa.table(table_name, sa.column("id"), sa.column(tmp, ftype.sa_type(f)))
        last = 0
        while True:
            chunk = self.conn.execute(
                sa.select(src.c.id, src.c[col]).where(src.c.id > last,
                                                      src.c[col].is_not(None))
                .order_by(src.c.id).limit(BATCH)).all()
            if not chunk:
                break
            self.conn.execute(
                sa.update(dst).where(dst.c.id == sa.bindparam("b_id"))
                .values({tmp: sa.bindparam("b_val", type_=ftype.sa_type(f))}),
                [{"b_id": rid, "b_val": ftype.to_python(f, value)} for rid, value in chunk])
            last = chunk[-1][0]
        self.drop_column(table_name, col)
        self.conn.exec_driver_sql(
            f"ALTER TABLE {self.q(table_name)} RENAME COLUMN {self.q(tmp)} TO {self.q(col)}")
        for idx in indexes:
            self.ops.create_index(idx["name"], table_name, [col], unique=bool(idx.get("unique")))

    def _keyed(self, work: Any) -> Any:
        """`work(keys)` with the deployment's keys; a key problem refuses the whole change."""
        from app.migrate.publish import PublishError

        try:
            return work(crypto.keys_of(self.conn.engine))
        except crypto.EncryptionError as exc:
            raise PublishError(f"{exc.message} Nothing was changed.") from None

    def op_encrypt_column(self, step: Step) -> None:
        """Encrypt every value in place; the column becomes Text (ciphertext is longer)."""
        f, table, col = self.field(step), self.table_name(step), step.column or ""
        if not self.sqlite:
            self.ops.alter_column(table, col, type_=sa.Text())
        self._keyed(lambda keys: crypto.encrypt_column(self.conn, step.entity, f, col, keys))

    def op_decrypt_column(self, step: Step) -> None:
        """Decrypt every value in place; the column gets its type's own SQL type back."""
        f, table, col = self.field(step), self.table_name(step), step.column or ""
        self._keyed(lambda keys: crypto.decrypt_column(self.conn, step.entity, f, col, keys))
        if not self.sqlite:
            self.ops.alter_column(table, col, type_=registry.get(f.type).sa_type(f))

    def op_alter_length(self, step: Step) -> None:
        if self.sqlite:
            return  # SQLite does not enforce varchar lengths; the field type validates
        f = self.field(step)
        self.ops.alter_column(self.table_name(step), step.column or "",
                              type_=registry.get(f.type).sa_type(f))

    def op_hide_column(self, step: Step) -> None:
        if step.data.get("make_nullable"):
            with self.ops.batch_alter_table(self.table_name(step)) as batch:
                batch.alter_column(step.column or "", nullable=True)

    def op_restore_column(self, step: Step) -> None:
        """The column is already there with its data: showing it needs no DDL."""

    def op_hide_table(self, step: Step) -> None:
        """The table and its rows stay; the entity is simply no longer in the config."""

    def op_note(self, step: Step) -> None:
        """Warnings only."""

    def backup(self, table: str, columns: Sequence[str] | None = None) -> str:
        name = f"bak_{self.stamp}_{table}"[:63]
        if columns:
            name = f"bak_{self.stamp}_{table}_{columns[0]}"[:63]
        cols = ", ".join(self.q(c) for c in ["id", *columns]) if columns else "*"
        self.conn.exec_driver_sql(f"CREATE TABLE {self.q(name)} AS SELECT {cols} FROM "
                                  f"{self.q(table)}")
        self.backups.append(name)
        return name

    def op_drop_column(self, step: Step) -> None:
        table, col = self.table_name(step), step.column or ""
        step.warnings.append(f"backup copy: table {self.backup(table, [col])}")
        self.drop_column(table, col)

    def drop_column(self, table: str, col: str) -> None:
        for idx in self._indexes_on(table, col):
            self.ops.drop_index(idx["name"], table_name=table)
        has_fk = any(col in fk.get("constrained_columns", [])
                     for fk in sa.inspect(self.conn).get_foreign_keys(table))
        if self.sqlite and has_fk:
            with self.ops.batch_alter_table(table, recreate="always") as batch:
                batch.drop_column(col)
        else:
            self.ops.drop_column(table, col)

    def op_drop_table(self, step: Step) -> None:
        table = self.table_name(step)
        step.warnings.append(f"backup copy: table {self.backup(table)}")
        cascade = "" if self.sqlite else " CASCADE"
        self.conn.exec_driver_sql(f"DROP TABLE {self.q(table)}{cascade}")

    def op_create_index(self, step: Step) -> None:
        self.ops.create_index(step.data["name"], self.table_name(step), [step.column or ""],
                              unique=bool(step.data.get("unique")))

    def op_drop_index(self, step: Step) -> None:
        self.ops.drop_index(step.data["name"], table_name=self.table_name(step))
