"""The records service: every read and write of entity records goes through here.

The web forms, lists and boards, the REST API, flask-admin, imports, workflow actions and plugins
all call `Records`; none of them touches entity tables. One operation is one transaction: input is
coerced and validated (types, required / required_when with visible_when, defaults, the YAML
rules, lookups, unique values, plugin checks), autonumbers drawn, the row written with its version
checked (optimistic locking), the audit trail and parents' roll-ups updated, and plugin hooks run
around the write. Anything refused or failing rolls the whole operation back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pluggy
import sqlalchemy as sa

from app import crypto
from app.access.actor import ActorAccess
from app.fields import registry as default_registry
from app.fields.base import Registry
from app.i18n import _
from app.meta.types import EntityDef
from app.model.build import Models
from app.model.system import audit, users
from app.records import checks, guard, side
from app.records.bulk import BulkOutcome, BulkRow, BulkWriter, OnBatch
from app.records.change import SYSTEM, Actor, Change, transitions
from app.records.errors import (
    Forbidden,
    ItemFailed,
    NotFound,
    RecordError,
    ValidationFailed,
)
from app.records.values import (
    OWNER,
    EntitySpec,
    apply_defaults,
    coerce,
    validate,
)

#: system keys every record dict carries besides its fields
SYSTEM_KEYS = ("id", "version", "created_at", "updated_at", "created_by_id", "updated_by_id",
               "owner_id", "deleted_at")


class Records:
    """Reads and writes of one config version's entities. Cheap to create per request."""

    def __init__(self, engine: sa.Engine, models: Models, *,
                 plugins: pluggy.PluginManager | None = None,
                 registry: Registry = default_registry, actor: Actor = SYSTEM) -> None:
        self.engine = engine
        self.models = models
        self.meta = models.meta
        self.plugins = plugins
        self.registry = registry
        #: whose reads these are: selects, lists, searches and `get` show only what this actor
        #: may see (writes check the actor they are given)
        self.actor = actor
        self._access: dict[Actor, ActorAccess] = {}
        self._permits: dict[tuple[str, int, str], bool] = {}
        #: specs and SELECTs by (kind, entity, registry), shared by every Records of this config
        #: version: kept on its Models, since neither changes within a version
        self._memo: dict[tuple[Any, ...], Any] = vars(models).setdefault(
            "_records_memo", {})

    # --- metadata ----------------------------------------------------------------------------
    def entity(self, name: str) -> EntityDef:
        e = self.meta.entities.get(name)
        if e is None:
            raise NotFound(_("There is no entity '%(name)s'.", name=name))
        return e

    def spec(self, name: str) -> EntitySpec:
        spec: EntitySpec | None = self._memo.get(("spec", name, self.registry))
        if spec is None:
            spec = self._memo.setdefault(("spec", name, self.registry),
                                         EntitySpec(self.entity(name), self.registry))
        return spec

    def table(self, name: str) -> sa.Table:
        return self.models.tables[self.entity(name).name]

    # --- access ------------------------------------------------------------------------------
    def access(self, actor: Actor | None = None) -> ActorAccess:
        """What `actor` (default: this service's actor) may do."""
        who = self.actor if actor is None else actor
        found = self._access.get(who)
        if found is None:
            found = self._access.setdefault(who, ActorAccess(self, who))
        return found

    def permits(self, entity: str, record_id: int, action: str) -> bool:
        """Whether this service's actor may `action` (read, edit, delete) this record (asked
        once per request: a detail page asks for its buttons, attachments and sharing card)."""
        acc = self.access()
        if acc.unrestricted:
            return True
        if not acc.allows(entity, action):
            return False
        key = (entity, int(record_id), action)
        if key not in self._permits:
            table = self.table(entity)
            stmt = sa.select(table.c.id).where(table.c.id == record_id)
            where = acc.where(entity, action)
            with self.engine.connect() as conn:
                self._permits[key] = conn.execute(
                    stmt if where is None else stmt.where(where)).first() is not None
        return self._permits[key]

    def visible_entity(self, name: str) -> EntityDef:
        """The entity as this service's actor sees it: without the fields hidden from them,
        with those they may not change marked read-only."""
        from app.access.view import visible_meta

        e = self.entity(name)
        if self.access().unrestricted:
            return e
        return visible_meta(self.meta, self.actor.roles).entities[name]

    def hidden(self, entity: str) -> frozenset[str]:
        """Fields of `entity` this service's actor may not see (absent from every read)."""
        return self.access().hidden(entity)

    def readable(self, entity: str) -> sa.ColumnElement[bool] | None:
        """The condition on `entity`'s table for records this service's actor may read (None:
        all). Raises Forbidden when the actor may read none of that entity."""
        acc = self.access()
        if not acc.allows(entity, "read"):
            raise Forbidden(_("You may not see %(entities)s.",
                              entities=self.entity(entity).plural_for(_locale())))
        return acc.where(entity, "read")

    def select(self, name: str) -> sa.Select[Any]:
        """SELECT of what this service's actor may read: the system columns, the stored
        fields (by field name) and formulas they may see, of the records they may see.
        Raises Forbidden when they may see none of that entity."""
        where = self.readable(name)
        stmt = self.full_select(name, self.hidden(name))
        return stmt if where is None else stmt.where(where)

    def full_select(self, name: str, hidden: frozenset[str] = frozenset()) -> sa.Select[Any]:
        """SELECT of every system column, stored field and formula but `hidden` (built once per
        config version: a Select is immutable, `.where()` makes a new one). No access check."""
        keys = crypto.keys_of(self.engine)  # encrypted fields are read as clear text
        key = ("select", name, self.registry, hidden, keys)
        stmt: sa.Select[Any] | None = self._memo.get(key)
        if stmt is not None:
            return stmt
        table = self.table(name)
        spec = self.spec(name)
        fields = spec.entity.fields
        cols: list[sa.ColumnElement[Any]] = [table.c[k] for k in SYSTEM_KEYS]
        cols += [(crypto.decrypting(table.c[c], keys, name, fields[f]) if fields[f].encrypted
                  else table.c[c]).label(f) for f, c in spec.columns.items()
                 if c in table.c and f not in hidden]
        cols += [sql.label(f) for f, sql in self.models.formulas.get(name, {}).items()
                 if f not in hidden]
        return self._memo.setdefault(key, sa.select(*cols))

    def to_record(self, row: sa.Row[Any]) -> dict[str, Any]:
        return dict(row._mapping)

    # --- transactions ------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, so two writers never deadlock)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(begin_immediate=True)
            with conn.begin():
                yield conn

    # --- reads -------------------------------------------------------------------------------
    def get(self, entity: str, record_id: int, *, deleted: bool = False,
            conn: sa.Connection | None = None) -> dict[str, Any]:
        """One record as this service's actor may see it (NotFound when they may not)."""
        return self._get(entity, record_id, deleted=deleted, conn=conn, stmt=self.select(entity))

    def _get(self, entity: str, record_id: int, *, deleted: bool = False,
             conn: sa.Connection | None = None, stmt: sa.Select[Any] | None = None
             ) -> dict[str, Any]:
        table = self.table(entity)
        stmt = (self.full_select(entity) if stmt is None else stmt).where(table.c.id == record_id)
        if not deleted:
            stmt = stmt.where(table.c.deleted_at.is_(None))
        if conn is None:
            with self.engine.connect() as c:
                row = c.execute(stmt).first()
        else:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(_("%(entity)s #%(id)s does not exist or was deleted.",
                             entity=self.entity(entity).label_for(_locale()), id=record_id))
        record = self.to_record(row)
        if self.plugins is not None:
            self.plugins.hook.crm_record_loaded(entity=entity, record=record)
        return record

    def titles(self, entity: str, ids: Sequence[int], conn: sa.Connection | None = None
               ) -> dict[int, str]:
        """id -> the record's title (its `title` field, else `<Entity> #id`), deleted included."""
        ids = sorted({int(i) for i in ids if i is not None})
        e = self.entity(entity)
        if not ids:
            return {}
        table = self.table(entity)
        title = self.title_column(entity)
        stmt = sa.select(table.c.id, title).where(table.c.id.in_(ids))
        if conn is None:
            with self.engine.connect() as c:
                rows = c.execute(stmt).all()
        else:
            rows = conn.execute(stmt).all()
        label = e.label_for(_locale())
        return {r[0]: (str(r[1]) if r[1] not in (None, "") else f"{label} #{r[0]}")
                for r in rows}

    def title_column(self, entity: str) -> sa.ColumnElement[Any]:
        e = self.entity(entity)
        table = self.table(entity)
        if e.title and e.title in self.models.formulas.get(entity, {}):
            return self.models.formulas[entity][e.title]
        column = self.spec(entity).columns.get(e.title or "")
        return table.c[column] if column else table.c.id

    def history(self, entity: str, record_id: int, conn: sa.Connection | None = None
                ) -> list[dict[str, Any]]:
        """The audit trail of one record, newest first, with the username of each change."""
        stmt = (sa.select(audit, users.c.username).select_from(
            audit.outerjoin(users, users.c.id == audit.c.user_id))
            .where(audit.c.entity == entity, audit.c.record_id == record_id)
            .order_by(audit.c.id.desc()))
        if conn is None:
            with self.engine.connect() as own:
                return [dict(r._mapping) for r in own.execute(stmt)]
        return [dict(r._mapping) for r in conn.execute(stmt)]

    # --- writes ------------------------------------------------------------------------------
    def create(self, entity: str, values: Mapping[str, Any], actor: Actor = SYSTEM
               ) -> dict[str, Any]:
        with self.transaction() as conn:
            change = self._create(conn, entity, values, actor)
        self._after_commit(change)
        return change.record

    def update(self, entity: str, record_id: int, values: Mapping[str, Any],
               actor: Actor = SYSTEM, *, version: int | None = None) -> dict[str, Any]:
        """Change some fields. `version` is the version the writer read: when the record has
        changed since, nothing is saved and Conflict says what the others changed."""
        with self.transaction() as conn:
            change = self._update(conn, entity, record_id, values, actor, version)
        self._after_commit(change)
        return change.record

    def delete(self, entity: str, record_id: int, actor: Actor = SYSTEM, *,
               version: int | None = None) -> None:
        """Soft delete: the record (and its master-detail children) go to the recycle bin."""
        with self.transaction() as conn:
            changes = self._delete(conn, entity, record_id, actor, version, datetime.now(UTC))
        for change in changes:
            self._after_commit(change)

    def restore(self, entity: str, record_id: int, actor: Actor = SYSTEM) -> dict[str, Any]:
        """Bring a record back from the recycle bin, with the children deleted along with it."""
        with self.transaction() as conn:
            changes = self._restore(conn, entity, record_id, actor)
        for change in changes:
            self._after_commit(change)
        return changes[0].record

    def bulk_update(self, entity: str, ids: Sequence[int], values: Mapping[str, Any],
                    actor: Actor = SYSTEM) -> int:
        """The same change on many records, all or nothing: the first refusal names the
        record and rolls every change back."""
        done: list[Change] = []
        with self.transaction() as conn:
            for record_id in ids:
                try:
                    done.append(self._update(conn, entity, record_id, values, actor, None))
                except ValidationFailed as exc:
                    title = self.titles(entity, [record_id], conn).get(record_id, record_id)
                    raise ValidationFailed({k: [f"{title}: {m}" for m in v]
                                            for k, v in exc.errors.items()}) from None
        for change in done:
            self._after_commit(change)
        return len(done)

    def write_many(self, entity: str,
                   items: Sequence[tuple[int | None, Mapping[str, Any], int | None]],
                   actor: Actor = SYSTEM) -> list[dict[str, Any]]:
        """Creates (id None) and updates (id, values, expected version or None) in one
        transaction, all or nothing: a refusal raises ItemFailed naming the item's index."""
        done: list[Change] = []
        with self.transaction() as conn:
            for index, (record_id, values, version) in enumerate(items):
                try:
                    done.append(self._create(conn, entity, values, actor) if record_id is None
                                else self._update(conn, entity, record_id, values, actor,
                                                  version))
                except RecordError as exc:
                    raise ItemFailed(index, exc) from None
        for change in done:
            self._after_commit(change)
        return [change.record for change in done]

    def import_rows(self, entity: str, rows: Sequence[BulkRow], actor: Actor = SYSTEM, *,
                    dry_run: bool = False, on_batch: OnBatch | None = None) -> BulkOutcome:
        """Create (and update) many rows in one transaction with every check of `create`, each
        row all or nothing: bad rows are reported, good ones written (app/records/bulk.py).
        Several batches of one import: `BulkWriter(self, entity, actor).write(rows)`."""
        return BulkWriter(self, entity, actor, dry_run=dry_run).write(rows, on_batch)

    def bulk_delete(self, entity: str, ids: Sequence[int], actor: Actor = SYSTEM) -> int:
        now = datetime.now(UTC)
        done: list[Change] = []
        with self.transaction() as conn:
            for record_id in ids:
                done += self._delete(conn, entity, record_id, actor, None, now)
        for change in done:
            self._after_commit(change)
        return len({c.id for c in done if c.entity.name == entity})

    def recycle_bin(self, entity: str, limit: int = 200) -> list[dict[str, Any]]:
        table = self.table(entity)
        stmt = (self.select(entity).where(table.c.deleted_at.is_not(None))
                .order_by(table.c.deleted_at.desc(), table.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [self.to_record(r) for r in conn.execute(stmt)]

    # --- the steps ---------------------------------------------------------------------------
    def _create(self, conn: sa.Connection, entity: str, raw: Mapping[str, Any], actor: Actor
                ) -> Change:
        spec = self.spec(entity)
        acc = self.access(actor)
        if not acc.allows(entity, "create"):
            raise Forbidden(_("You may not create %(entities)s.",
                              entities=spec.entity.plural_for(_locale())))
        raw, refused = guard.visible_input(self, entity, raw, actor)
        values, errors = coerce(spec, raw, system=actor.is_system)
        errors.update(refused)
        guard.read_only(self, spec, values, {}, actor, errors)
        owner = values.pop(OWNER, actor.id)
        apply_defaults(spec, values, set(raw))
        change = Change(spec.entity, "create", actor, conn, values, meta=self.meta,
                        service=self)
        self._check(conn, spec, change, errors, owner)
        table = self.table(entity)
        now = datetime.now(UTC)
        for f in spec.entity:
            if f.type == "autonumber" and f.name in spec.columns:
                values[f.name] = side.autonumber(conn, table, f, now.date())
        self._before_save(change)
        row = {spec.columns[k]: v for k, v in change.values.items() if k in spec.columns}
        crypto.seal(spec.entity, spec.columns, row, crypto.keys_of(self.engine))
        row.update(version=1, created_at=now, updated_at=now, created_by_id=actor.id,
                   updated_by_id=actor.id, owner_id=owner)
        change.id = int(conn.execute(table.insert().values(row).returning(table.c.id))
                        .scalar_one())
        side.write_audit(conn, entity=entity, record_id=change.id, action="create",
                         user_id=actor.id, version=1,
                         changes=self._audit_changes(spec, {}, change.values))
        side.own_rollups(conn, self.models, entity, [change.id])
        side.recompute_rollups(conn, self.models, entity,
                               side.link_values(self.models, entity, change.values))
        change.record = self._get(entity, change.id, conn=conn)
        self._after_save(change)
        return change

    def _update(self, conn: sa.Connection, entity: str, record_id: int,
                raw: Mapping[str, Any], actor: Actor, version: int | None) -> Change:
        spec = self.spec(entity)
        table = self.table(entity)
        old = self._locked(conn, entity, record_id)
        guard.may(self, conn, entity, record_id, actor, "edit")
        if version is not None and int(version) != old["version"]:
            raise checks.conflict(self, conn, entity, old, int(version),
                                 self.access(actor).hidden(entity))
        raw, refused = guard.visible_input(self, entity, raw, actor)
        given, errors = coerce(spec, raw, system=actor.is_system)
        stored = {f: self._normal(spec, f, old[f]) for f in spec.columns}
        errors.update(refused)
        guard.read_only(self, spec, given, stored, actor, errors)
        owner = given.pop(OWNER, old["owner_id"])
        if owner != old["owner_id"]:
            guard.may_transfer(self, entity, old["owner_id"], actor)
        change = Change(spec.entity, "update", actor, conn, {**stored, **given}, old=stored,
                        id=record_id, meta=self.meta, service=self)
        self._check(conn, spec, change, errors, owner)
        self._before_save(change)
        diff = {k: v for k, v in change.values.items() if k in spec.columns and stored.get(k) != v}
        if not diff and owner == old["owner_id"]:
            change.record = old
            return change
        new_version = old["version"] + 1
        row = {spec.columns[k]: v for k, v in diff.items()}
        crypto.seal(spec.entity, spec.columns, row, crypto.keys_of(self.engine))
        row.update(version=new_version, updated_at=datetime.now(UTC), updated_by_id=actor.id,
                   owner_id=owner)
        done = conn.execute(table.update().where(table.c.id == record_id,
                                                 table.c.version == old["version"]).values(row))
        if done.rowcount != 1:  # pragma: no cover - the row lock makes this a safety net
            raise checks.conflict(self, conn, entity, old, old["version"])
        changes = self._audit_changes(spec, stored, diff)
        if owner != old["owner_id"]:
            changes[OWNER] = [old["owner_id"], owner]
        side.write_audit(conn, entity=entity, record_id=record_id, action="update",
                         user_id=actor.id, version=new_version, changes=changes)
        side.recompute_rollups(conn, self.models, entity,
                               side.link_values(self.models, entity, old, change.values))
        change.record = self._get(entity, record_id, conn=conn)
        self._after_save(change)
        return change

    def _delete(self, conn: sa.Connection, entity: str, record_id: int, actor: Actor,
                version: int | None, when: datetime, *, with_parent: bool = False
                ) -> list[Change]:
        """`with_parent`: a master-detail child deleted with its parent (whoever may delete the
        parent deletes its children, whoever owns them)."""
        old = self._locked(conn, entity, record_id)
        if not with_parent:
            guard.may(self, conn, entity, record_id, actor, "delete")
        if version is not None and int(version) != old["version"]:
            raise checks.conflict(self, conn, entity, old, int(version),
                                 self.access(actor).hidden(entity))
        checks.check_restrict(self, conn, entity, record_id)
        spec = self.spec(entity)
        change = Change(spec.entity, "delete", actor, conn, {}, old=old, id=record_id,
                        meta=self.meta)
        self._hook("crm_record_before_delete", change)
        table = self.table(entity)
        conn.execute(table.update().where(table.c.id == record_id).values(
            deleted_at=when, version=old["version"] + 1, updated_by_id=actor.id))
        side.write_audit(conn, entity=entity, record_id=record_id, action="delete",
                         user_id=actor.id, version=old["version"] + 1, changes=None)
        done = [change]
        for child, cid in self._detail_rows(conn, entity, record_id, None):
            done += self._delete(conn, child, cid, actor, None, when, with_parent=True)
        side.recompute_rollups(conn, self.models, entity,
                               side.link_values(self.models, entity, old))
        change.record = self._get(entity, record_id, deleted=True, conn=conn)
        self._hook("crm_record_after_delete", change)
        return done

    def _restore(self, conn: sa.Connection, entity: str, record_id: int, actor: Actor,
                 *, with_parent: bool = False) -> list[Change]:
        table = self.table(entity)
        old = self._get(entity, record_id, deleted=True, conn=conn)
        if old["deleted_at"] is None:  # NotFound first when they may not see it
            guard.may(self, conn, entity, record_id, actor, "delete")
            raise RecordError(_("This record is not in the recycle bin."))
        if not with_parent:  # children come back with their parent, as they went
            guard.may(self, conn, entity, record_id, actor, "delete", deleted=True)
        spec = self.spec(entity)
        change = Change(spec.entity, "restore", actor, conn, {}, old=old, id=record_id,
                        meta=self.meta)
        self._hook("crm_record_before_save", change)
        conn.execute(table.update().where(table.c.id == record_id).values(
            deleted_at=None, version=old["version"] + 1, updated_by_id=actor.id))
        side.write_audit(conn, entity=entity, record_id=record_id, action="restore",
                         user_id=actor.id, version=old["version"] + 1, changes=None)
        done = [change]
        for child, cid in self._detail_rows(conn, entity, record_id, old["deleted_at"]):
            done += self._restore(conn, child, cid, actor, with_parent=True)
        side.recompute_rollups(conn, self.models, entity,
                               side.link_values(self.models, entity, old))
        change.record = self._get(entity, record_id, conn=conn)
        self._hook("crm_record_after_save", change)
        return done

    # --- helpers -----------------------------------------------------------------------------
    def _locked(self, conn: sa.Connection, entity: str, record_id: int) -> dict[str, Any]:
        """The live record, locked for this transaction (FOR UPDATE on PostgreSQL; SQLite's
        write transaction already holds the database lock)."""
        table = self.table(entity)
        stmt = self.full_select(entity).where(table.c.id == record_id,
                                              table.c.deleted_at.is_(None))
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=table)
        row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(_("%(entity)s #%(id)s does not exist or was deleted.",
                             entity=self.entity(entity).label_for(_locale()), id=record_id))
        return self.to_record(row)

    def _check(self, conn: sa.Connection, spec: EntitySpec, change: Change,
               errors: dict[str, list[str]], owner: int | None) -> None:
        """Every check of a create or update; raises ValidationFailed with all problems."""
        self._hook("crm_record_before_validate", change)
        for key, problems in validate(spec, change.values).items():
            if key not in errors:
                errors[key] = problems
        checks.check_links(self, conn, spec, change, errors)
        checks.check_unique(self, conn, spec, change, errors)
        if owner is not None and OWNER not in errors and owner != change.old.get("owner_id") \
                and not conn.execute(sa.select(users.c.id).where(users.c.id == owner)).first():
            errors[OWNER] = [_("There is no user with id %(id)s.", id=owner)]
        if not errors and self.plugins is not None:
            for found in self.plugins.hook.crm_record_validate(change=change):
                for field, message in found or ():
                    errors.setdefault(field or "__record__", []).append(message)
        if errors:
            raise ValidationFailed(errors)

    @staticmethod
    def _normal(spec: EntitySpec, name: str, value: Any) -> Any:
        """A stored value as the field type's Python value (SQLite returns datetimes without
        their time zone: compared raw, every save would look like a change)."""
        if value is None:
            return None
        f = spec.entity.fields[name]
        try:
            return spec.ftype(f).to_python(f, value)
        except (ValueError, TypeError):
            return value

    def _detail_rows(self, conn: sa.Connection, entity: str, record_id: int,
                     deleted_at: datetime | None) -> list[tuple[str, int]]:
        """(child entity, id) of the master-detail children of a record: the live ones, or
        those deleted at `deleted_at` (together with their parent)."""
        out: list[tuple[str, int]] = []
        for child, link in self._detail_children(entity):
            ctable = self.table(child.name)
            col = ctable.c[self.spec(child.name).columns[link]]
            when = ctable.c.deleted_at.is_(None) if deleted_at is None \
                else ctable.c.deleted_at == deleted_at
            ids = conn.execute(sa.select(ctable.c.id).where(col == record_id, when)).scalars()
            out += [(child.name, int(cid)) for cid in ids]
        return out

    def _detail_children(self, entity: str) -> list[tuple[EntityDef, str]]:
        return [(e, f.name) for e in self.meta for f in e
                if f.type == "master_detail" and f.opt("to") == entity
                and f.name in self.spec(e.name).columns]

    def _audit_changes(self, spec: EntitySpec, old: Mapping[str, Any],
                       new: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in new.items():
            f = spec.entity.fields.get(name)
            if f is None or old.get(name) == value or (not old and value is None):
                continue
            ftype = spec.ftype(f)
            if f.encrypted:  # the fact of the change, never the clear value
                out[name] = [crypto.masked(old.get(name)), crypto.masked(value)]
                continue
            out[name] = [ftype.to_json(f, old.get(name)) if old.get(name) is not None else None,
                         ftype.to_json(f, value) if value is not None else None]
        return out

    def _hook(self, name: str, change: Change) -> None:
        if self.plugins is not None:
            getattr(self.plugins.hook, name)(change=change)

    def _before_save(self, change: Change) -> None:
        """`before_save`, then `before_transition` for each stage (picklist) that moves."""
        self._hook("crm_record_before_save", change)
        if self.plugins is not None:
            for name, (old, new) in transitions(change).items():
                self.plugins.hook.crm_record_before_transition(
                    change=change, field=name, old=old, new=new)

    def _after_save(self, change: Change) -> None:
        self._hook("crm_record_after_save", change)
        if self.plugins is not None:
            for name, (old, new) in transitions(change).items():
                self.plugins.hook.crm_record_after_transition(
                    change=change, field=name, old=old, new=new)

    def _after_commit(self, change: Change) -> None:
        if self.plugins is None:
            return
        try:
            self.plugins.hook.crm_record_after_commit(change=change)
        except Exception:
            import logging

            logging.getLogger(__name__).exception("crm_record_after_commit hook failed")


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()
