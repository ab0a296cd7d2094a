"""Which tables a database holds and how to make them again.

Backing up, every table of the database is described (`describe`):

- system tables (`sys_*` known to the code, app/model/): their columns typed as the code types
  them; a restore creates them from the code (`system_tables`), as `create_system_tables` does;
- entity tables (`ent_*`): each column typed as the config built it, looked up in the config
  versions from the live one back (`ConfigColumns`): the live version's fields, the system
  columns every entity has, and the columns of hidden fields and hidden entities (removing a
  field hides it and keeps its column; the last version that still had the field says what
  the column is). A column no version explains is described as reflected;
- other tables (the `bak_*` copies a purge leaves, tables of plugins): as reflected.

Nullability, primary keys and indexes are taken from the database itself (reflection), so the
restored tables are the tables that were there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from app.backup.columns import (
    DDL_TYPE,
    ColumnSpec,
    ForeignKeySpec,
    SpecError,
    TypeSpec,
    identifier,
    sa_type,
    type_spec,
)
from app.backup.manifest import IndexSpec, TableEntry
from app.meta.types import Meta
from app.model.system import system_metadata


def system_tables() -> Mapping[str, sa.Table]:
    """Every system table the code defines: those of every module of app/model/ (the modules
    `create_system_tables` imports, whichever they are)."""
    import importlib
    import pkgutil

    import app.model

    for module in pkgutil.iter_modules(app.model.__path__):
        importlib.import_module(f"app.model.{module.name}")
    return system_metadata.tables


class ConfigColumns:
    """Columns of entity tables as the config versions built them, newest version first."""

    def __init__(self, conn: sa.Connection, live: tuple[int | None, Meta | None]) -> None:
        self.conn = conn
        self.live_id, self.live = live
        self._ids: list[int] | None = None
        #: version id -> entity -> column name -> column
        self._built: dict[int, dict[str, dict[str, sa.Column[Any]] | None]] = {}

    def _versions(self) -> Iterator[tuple[int, Meta]]:
        from app.meta.snapshot import meta_from_dict
        from app.model.system import config_versions

        if self.live_id is not None and self.live is not None:
            yield self.live_id, self.live
        if self._ids is None:
            if not sa.inspect(self.conn).has_table(config_versions.name):
                self._ids = []
            else:
                self._ids = list(self.conn.execute(
                    sa.select(config_versions.c.id).order_by(config_versions.c.id.desc()))
                    .scalars())
        for vid in self._ids:
            if vid == self.live_id:
                continue
            snapshot = self.conn.execute(sa.select(config_versions.c.snapshot).where(
                config_versions.c.id == vid)).scalar_one()
            try:
                meta = meta_from_dict(snapshot)
            except (KeyError, ValueError, TypeError):  # a snapshot this code cannot read: the
                continue  # columns it alone explains are described as reflected
            yield vid, meta

    def _entity(self, vid: int, meta: Meta, entity: str) -> dict[str, sa.Column[Any]] | None:
        built = self._built.setdefault(vid, {})
        if entity not in built:
            built[entity] = _entity_columns(meta, entity)
        return built[entity]

    def find(self, entity: str, names: list[str]) -> dict[str, sa.Column[Any]]:
        """The defining column of each of `names` that some version explains."""
        found: dict[str, sa.Column[Any]] = {}
        todo = set(names)
        for vid, meta in self._versions():
            cols = self._entity(vid, meta, entity)
            if cols is None:
                continue
            for name in list(todo):
                if name in cols:
                    found[name] = cols[name]
                    todo.discard(name)
            if not todo:
                break
        return found


def _entity_columns(meta: Meta, entity: str) -> dict[str, sa.Column[Any]] | None:
    from app.fields import registry
    from app.model.build import field_columns, system_columns

    e = meta.entities.get(entity)
    if e is None:
        return None
    try:
        columns = [*system_columns(e.table), *(col for _f, col in field_columns(e, meta, registry))]
    except (KeyError, ValueError, TypeError):  # a field type that is no longer installed
        return None
    table = sa.Table(e.table, sa.MetaData(), *columns)
    return {c.name: c for c in table.c}


def _server_default(col: sa.Column[Any]) -> str | None:
    default = col.server_default
    arg = getattr(default, "arg", None)
    if arg is None:
        return None
    if isinstance(arg, str):
        text = arg
    elif isinstance(arg, sa.sql.functions.FunctionElement):
        return "now" if arg.name.lower() in ("current_timestamp", "now") else None
    else:
        text = str(getattr(arg, "text", ""))
    if text.strip().upper() in ("CURRENT_TIMESTAMP", "NOW()"):
        return "now"
    from app.backup.columns import DEFAULT_LITERAL

    return text if DEFAULT_LITERAL.match(text) else None


def _foreign_key(col: sa.Column[Any], tables: set[str]) -> ForeignKeySpec | None:
    for fk in col.foreign_keys:
        table, _, column = fk.target_fullname.rpartition(".")
        if table not in tables:
            return None  # the table it pointed at is gone (purged): no constraint to make
        name = fk.name if isinstance(fk.name, str) and fk.name else None
        return ForeignKeySpec(table=table, column=column,
                              ondelete=fk.ondelete.upper() if fk.ondelete else None, name=name)
    return None


def _code_spec(col: sa.Column[Any], live: Mapping[str, Any], pk: list[str],
               dialect: sa.Dialect, tables: set[str]) -> ColumnSpec:
    table = col.table
    auto = isinstance(table, sa.Table) and table.autoincrement_column is col
    return ColumnSpec(name=col.name, type=type_spec(col.type, dialect),
                      nullable=bool(live.get("nullable", True)), primary_key=col.name in pk,
                      autoincrement=auto and pk == [col.name],
                      default=_server_default(col), foreign_key=_foreign_key(col, tables))


def _reflected_spec(live: Mapping[str, Any], pk: list[str], dialect: sa.Dialect,
                    declared: Mapping[str, str] | None) -> ColumnSpec:
    name = identifier(live["name"], "column")
    if declared is not None:  # SQLite tables of unknown origin: values as stored
        ddl = declared.get(name, "")
        spec = TypeSpec("raw", ddl=ddl if DDL_TYPE.match(ddl) else "", dialect="sqlite")
    else:
        spec = type_spec(live["type"], dialect)
    auto = pk == [name] and spec.kind in ("integer", "bigint") and (
        dialect.name == "sqlite" or bool(live.get("autoincrement"))
        or "nextval(" in str(live.get("default") or ""))
    return ColumnSpec(name=name, type=spec, nullable=bool(live.get("nullable", True)),
                      primary_key=name in pk, autoincrement=auto)


def _declared_types(conn: sa.Connection, table: str) -> dict[str, str]:
    q = conn.dialect.identifier_preparer.quote(table)
    return {str(r[1]): str(r[2] or "") for r in conn.exec_driver_sql(f"PRAGMA table_info({q})")}


def describe(conn: sa.Connection, live: tuple[int | None, Meta | None]) -> list[TableEntry]:
    """Every table of the database behind `conn` (its default schema), described for the
    archive; rows and checksums are filled in while the rows are written."""
    insp = sa.inspect(conn)
    names = sorted(insp.get_table_names())
    for name in names:
        identifier(name, "table")
    if not names:
        return []
    columns = {t: list(c) for (_s, t), c in insp.get_multi_columns(filter_names=names).items()}
    pks = {t: list(p.get("constrained_columns") or [])
           for (_s, t), p in insp.get_multi_pk_constraint(filter_names=names).items()}
    indexes = {t: list(i) for (_s, t), i in insp.get_multi_indexes(filter_names=names).items()}
    code = system_tables()
    history = ConfigColumns(conn, live)
    tables = set(names)
    out: list[TableEntry] = []
    for name in names:
        live_cols, pk = columns.get(name, []), pks.get(name, [])
        if name in code:
            kind, defined = "system", {c.name: c for c in code[name].c}
        elif name.startswith("ent_"):
            kind = "entity"
            defined = history.find(name[4:], [c["name"] for c in live_cols])
        else:
            kind, defined = "other", {}
        declared = _declared_types(conn, name) if kind == "other" and \
            conn.dialect.name == "sqlite" else None
        specs = [
            _code_spec(defined[c["name"]], c, pk, conn.dialect, tables)
            if c["name"] in defined else _reflected_spec(c, pk, conn.dialect, declared)
            for c in live_cols
        ]
        out.append(TableEntry(name=name, kind=kind, columns=specs,
                              indexes=[] if kind == "system" else _indexes(indexes.get(name, []))))
    return out


def _indexes(found: list[Any]) -> list[IndexSpec]:
    out: list[IndexSpec] = []
    for idx in found:
        cols = idx.get("column_names") or []
        if idx.get("duplicates_constraint") or not idx.get("name") or not cols or \
                any(c is None for c in cols):
            continue  # a constraint's own index, or an expression index: not made again
        try:
            out.append(IndexSpec(name=identifier(idx["name"], "index"),
                                 columns=tuple(identifier(c, "column") for c in cols),
                                 unique=bool(idx.get("unique"))))
        except SpecError:
            continue
    return out


def next_ids(conn: sa.Connection, entries: list[TableEntry]) -> None:
    """PostgreSQL: note where each id sequence stands (a restore never hands out an id that
    was used and deleted before)."""
    if conn.dialect.name != "postgresql":
        return
    for entry in entries:
        auto = [c for c in entry.columns if c.autoincrement]
        if not auto:
            continue
        seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                           {"t": _quoted(conn, entry.name), "c": auto[0].name}).scalar()
        if not seq:
            continue
        last, called = conn.exec_driver_sql(
            f"SELECT last_value, is_called FROM {seq}").one()
        entry.next_id = int(last) + 1 if called else int(last)


def _quoted(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


# --- the restore's tables --------------------------------------------------------------------
def restore_metadata(entries: list[TableEntry], dialect: str
                     ) -> tuple[sa.MetaData, dict[str, sa.Table], list[str]]:
    """The tables a restore creates: every system table of the code (those in the archive and
    those that are not), and the archive's other tables from their descriptions. Returns the
    MetaData, the archive's tables by name and the archived system columns this code does not
    know (added to the code's table as plain columns)."""
    md = sa.MetaData()
    code = system_tables()
    for table in code.values():
        table.to_metadata(md)
    out: dict[str, sa.Table] = {}
    extra: list[str] = []
    for entry in entries:
        if entry.kind == "system" and entry.name in md.tables:
            table = md.tables[entry.name]
            for spec in entry.columns:
                if spec.name not in table.c:
                    table.append_column(sa.Column(spec.name, sa_type(spec.type, dialect)))
                    extra.append(f"{entry.name}.{spec.name}")
            out[entry.name] = table
            continue
        if entry.name in md.tables:
            raise SpecError(f"table {entry.name} is listed twice")
        out[entry.name] = spec_table(md, entry, dialect)
    for table in out.values():
        for col in table.c:
            for fk in col.foreign_keys:
                target, _, column = fk.target_fullname.rpartition(".")
                if target not in md.tables or column not in md.tables[target].c:
                    raise SpecError(f"{table.name}.{col.name} points at {target}.{column}, "
                                    "which is not there")
    return md, out, extra


def spec_table(md: sa.MetaData, entry: TableEntry, dialect: str) -> sa.Table:
    columns: list[sa.Column[Any]] = []
    for spec in entry.columns:
        args: list[Any] = []
        if spec.foreign_key is not None:
            fk = spec.foreign_key
            args.append(sa.ForeignKey(f"{fk.table}.{fk.column}", ondelete=fk.ondelete,
                                      name=fk.name))
        kw: dict[str, Any] = {"nullable": spec.nullable, "primary_key": spec.primary_key,
                              "autoincrement": spec.autoincrement if spec.primary_key
                              else "auto"}
        if spec.default == "now":
            kw["server_default"] = sa.func.current_timestamp()
        elif spec.default is not None:
            kw["server_default"] = sa.text(spec.default)
        columns.append(sa.Column(spec.name, sa_type(spec.type, dialect), *args, **kw))
    names = {c.name for c in columns}
    indexes = [sa.Index(i.name, *i.columns, unique=i.unique) for i in entry.indexes
               if set(i.columns) <= names]
    return sa.Table(entry.name, md, *columns, *indexes)
