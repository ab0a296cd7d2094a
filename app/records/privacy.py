"""Personal data requests: export everything held about one person, or erase their personal data
while keeping the business records.

A field marked `personal: true` in YAML holds a person's data; an entity with such fields is a
"person entity" (contacts, leads). For one of its records:

- `personal_data` gathers the record (every field, with labels), the records of other entities
  that link to it (lookups and master-detail: opportunities, cases, notes, activities ...), its
  audit history and its attachments, as one JSON-ready dict; `write_zip` packs it with the
  attachments' bytes.
- `erase_plan` says what `erase` would do; `erase` does it, in one transaction through the
  records service's write path (validation, hooks, roll-ups, webhooks): every personal field is
  emptied (or, where the field is required, given a neutral placeholder such as "Erased 12"),
  the personal fields of records of *other* entities that link to it are emptied the same way
  (a campaign member's copied name, the lead a contact was converted from), the personal values
  are scrubbed from their audit trail and from the webhook and automation logs, the record's
  attachments (rows and bytes) are deleted, and an `erased` audit entry records who did it.
  Records of the same entity that link to it (a contact's `reports_to`) are other people and are
  left alone. The record itself, its links and the business records stay.

Modes: `erase` empties every personal field; `anonymise` keeps what describes a group rather than
a person (picklist values such as the country or salutation, the year of a birthday) and empties
the rest. Free text (descriptions, notes' bodies) is not scanned. Engine level: no Flask.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any

import sqlalchemy as sa

from app import seclog
from app.events.outbox import jsonable
from app.fields.base import FieldValueError
from app.i18n import _, get_locale
from app.meta.types import EntityDef, FieldDef
from app.model.system import attachments as attachment_table
from app.model.system import audit
from app.model.system_events import automation_runs, webhook_deliveries
from app.records.attachments import Attachment, AttachmentStore
from app.records.change import Actor, Change
from app.records.errors import Forbidden, RecordError
from app.records.service import SYSTEM_KEYS, Records
from app.records.side import write_audit
from app.records.values import is_empty, required_now, with_formulas

MODES = ("erase", "anonymise")
LINK_TYPES = ("lookup", "master_detail")
#: text types that take the placeholder when required
TEXT_TYPES = frozenset({"string", "text", "rich_text"})
#: numeric types whose neutral value is their minimum (else 0)
NUMBER_TYPES = frozenset({"integer", "decimal", "currency", "percent"})
#: the audit action of an erasure
ERASED = "erased"


# --- which fields ----------------------------------------------------------------------------
def personal_fields(records: Records, entity: str) -> tuple[FieldDef, ...]:
    """The stored personal fields of an entity (computed fields are never personal)."""
    spec = records.spec(entity)
    return tuple(f for f in spec.entity if f.personal and f.name in spec.columns
                 and not spec.ftype(f).computed)


def is_person_entity(records: Records, entity: str) -> bool:
    return bool(personal_fields(records, entity))


def person_entity(records: Records, entity: str) -> EntityDef:
    """The entity, or RecordError when it has no personal fields."""
    e = records.entity(entity)
    if not personal_fields(records, entity):
        raise RecordError(_(
            "%(entity)s has no personal fields, so there is no personal data to export or "
            "erase. Mark the fields that hold a person's data with personal: true in its YAML.",
            entity=e.plural_for(get_locale())))
    return e


def links_to(records: Records, entity: str) -> list[tuple[EntityDef, FieldDef]]:
    """Every lookup or master-detail field (of any entity, hidden ones too) pointing at
    `entity`, in config order."""
    return [(e, f) for e in records.meta for f in e
            if f.type in LINK_TYPES and f.opt("to") == entity
            and f.name in records.spec(e.name).columns]


# --- JSON values -----------------------------------------------------------------------------
def field_json(records: Records, f: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    return jsonable(records.registry.get(f.type).to_json(f, value))


def record_json(records: Records, e: EntityDef, rec: Mapping[str, Any]) -> dict[str, Any]:
    """System keys and every field by name, as JSON values."""
    out = {k: jsonable(rec.get(k)) for k in SYSTEM_KEYS}
    out.update({f.name: field_json(records, f, rec.get(f.name)) for f in e if f.name in rec})
    return out


# --- export ----------------------------------------------------------------------------------
def personal_data(records: Records, entity: str, record_id: int, *,
                  store: AttachmentStore | None = None) -> dict[str, Any]:
    """Everything the CRM holds about one record of a person entity (deleted ones too)."""
    e = person_entity(records, entity)
    locale = get_locale()
    with records.engine.connect() as conn:
        rec = records.get(entity, record_id, deleted=True, conn=conn)
        title = records.titles(entity, [record_id], conn).get(record_id, "")
        linked = _linked(records, conn, entity, record_id)
        history = records.history(entity, record_id, conn)
    fields = {f.name: {"label": f.label_for(locale), "type": f.type, "personal": f.personal,
                       "value": field_json(records, f, rec.get(f.name))}
              for f in e if f.name in rec}
    files = store.list(entity, record_id, deleted=True) if store is not None \
        else _attachment_rows(records, entity, record_id)
    return {
        "format": "yamlcrm-personal-data/1",
        "exported_at": datetime.now(UTC).isoformat(),
        "entity": entity,
        "entity_label": e.label_for(locale),
        "id": record_id,
        "title": title,
        "personal_fields": [f.name for f in personal_fields(records, entity)],
        "record": {**{k: jsonable(rec.get(k)) for k in SYSTEM_KEYS}, "fields": fields},
        "linked": linked,
        "history": [{"at": jsonable(h["at"]), "action": h["action"], "user": h.get("username"),
                     "version": h.get("version"), "changes": jsonable(h.get("changes") or {})}
                    for h in history],
        "attachments": [{"id": a.id, "name": a.name, "content_type": a.content_type,
                         "size": a.size, "uploaded_at": a.uploaded_at.isoformat(),
                         "removed": a.deleted_at is not None} for a in files],
    }


def _linked(records: Records, conn: sa.Connection, entity: str, record_id: int
            ) -> dict[str, list[dict[str, Any]]]:
    """Entity -> the records linking to this one (through any of its link fields)."""
    locale = get_locale()
    out: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, int]] = set()
    for child, f in links_to(records, entity):
        table = records.table(child.name)
        col = table.c[records.spec(child.name).columns[f.name]]
        stmt = records.select(child.name).where(col == record_id).order_by(table.c.id)
        if child.name == entity:
            stmt = stmt.where(table.c.id != record_id)
        rows = [records.to_record(r) for r in conn.execute(stmt)]
        titles = records.titles(child.name, [r["id"] for r in rows], conn)
        for row in rows:
            if (child.name, row["id"]) in seen:
                continue
            seen.add((child.name, row["id"]))
            out.setdefault(child.name, []).append({
                "entity": child.name, "entity_label": child.label_for(locale),
                "via": f.name, "via_label": f.label_for(locale), "id": row["id"],
                "title": titles.get(row["id"], ""), "deleted": row["deleted_at"] is not None,
                "fields": {g.name: field_json(records, g, row.get(g.name))
                           for g in child if g.name in row},
            })
    return out


def _attachment_rows(records: Records, entity: str, record_id: int) -> list[Attachment]:
    t = attachment_table
    with records.engine.connect() as conn:
        return [Attachment.from_row(r) for r in conn.execute(
            sa.select(t).where(t.c.entity == entity, t.c.record_id == record_id)
            .order_by(t.c.id))]


def write_zip(data: Mapping[str, Any], store: AttachmentStore, out: IO[bytes]) -> None:
    """`personal-data.json` and the attachments' files (`attachments/<id>-<name>`)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("personal-data.json", json.dumps(data, ensure_ascii=False, indent=2))
        for item in data.get("attachments", []):
            path = store.path(_key_of(store, data, int(item["id"])))
            if path.is_file():
                zf.write(path, f"attachments/{item['id']}-{item['name']}")


def _key_of(store: AttachmentStore, data: Mapping[str, Any], attachment_id: int) -> str:
    t = attachment_table
    with store.engine.connect() as conn:
        key = conn.execute(sa.select(t.c.key).where(
            t.c.id == attachment_id, t.c.entity == data["entity"],
            t.c.record_id == data["id"])).scalar_one_or_none()
    return str(key or "")


def zip_bytes(data: Mapping[str, Any], store: AttachmentStore) -> bytes:
    buf = io.BytesIO()
    write_zip(data, store, buf)
    return buf.getvalue()


# --- the erase plan --------------------------------------------------------------------------
@dataclass
class Target:
    """One record whose personal fields an erasure changes: field -> (now, after)."""

    entity: EntityDef
    id: int
    title: str
    values: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)
    via: FieldDef | None = None

    def fields(self) -> list[FieldDef]:
        return [self.entity.fields[n] for n in self.values]


@dataclass
class ErasePlan:
    target: Target
    mode: str
    #: records of other entities linking to it whose personal fields are emptied too
    cascade: list[Target] = field(default_factory=list)
    #: records kept as they are, by entity: (entity, count)
    kept: list[tuple[EntityDef, int]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.target.values and not any(t.values for t in self.cascade) \
            and not self.attachments


def erase_plan(records: Records, entity: str, record_id: int, mode: str = "erase",
               conn: sa.Connection | None = None) -> ErasePlan:
    """What `erase` would change (nothing is written)."""
    if conn is None:
        with records.engine.connect() as own:
            return erase_plan(records, entity, record_id, mode, own)
    if mode not in MODES:
        raise RecordError(_("Unknown erase mode '%(mode)s' (use %(modes)s).", mode=mode[:40],
                            modes=", ".join(MODES)))
    e = person_entity(records, entity)
    rec = records.get(entity, record_id, deleted=True, conn=conn)
    if rec["deleted_at"] is not None:
        raise RecordError(_("%(entity)s #%(id)s is in the recycle bin: restore it first, then "
                            "erase its personal data.", entity=e.label_for(get_locale()),
                            id=record_id))
    title = records.titles(entity, [record_id], conn).get(record_id, "")
    plan = ErasePlan(_target(records, e, rec, title, mode), mode)
    for child, f in links_to(records, entity):
        table = records.table(child.name)
        col = table.c[records.spec(child.name).columns[f.name]]
        live = table.c.deleted_at.is_(None)
        if child.name == entity or not personal_fields(records, child.name):
            stmt = sa.select(sa.func.count()).select_from(table).where(col == record_id, live)
            if child.name == entity:
                stmt = stmt.where(table.c.id != record_id)
            count = conn.execute(stmt).scalar_one()
            if count:
                plan.kept.append((child, int(count)))
            continue
        rows = [records.to_record(r) for r in conn.execute(
            records.select(child.name).where(col == record_id, live).order_by(table.c.id))]
        titles = records.titles(child.name, [r["id"] for r in rows], conn)
        for row in rows:
            t = _target(records, child, row, titles.get(row["id"], ""), mode)
            t.via = f
            if not any(c.entity.name == child.name and c.id == t.id for c in plan.cascade):
                plan.cascade.append(t)
    att = attachment_table
    plan.attachments = [Attachment.from_row(r) for r in conn.execute(
        sa.select(att).where(att.c.entity == entity, att.c.record_id == record_id)
        .order_by(att.c.id))]
    return plan


def _target(records: Records, e: EntityDef, rec: Mapping[str, Any], title: str, mode: str
            ) -> Target:
    """The new values of a record's personal fields (only those that change)."""
    spec = records.spec(e.name)
    fields = personal_fields(records, e.name)
    new = {f.name: _erased(records, f, rec.get(f.name), mode) for f in fields}
    merged = with_formulas(spec, {**{k: rec.get(k) for k in spec.columns}, **new})
    for f in fields:
        if is_empty(new[f.name]) and required_now(spec, f, merged):
            new[f.name] = neutral(records, f, rec["id"], rec.get(f.name))
    changed = {k: v for k, v in new.items() if _differs(rec.get(k), v)}
    return Target(e, int(rec["id"]), title, changed, {k: rec.get(k) for k in changed})


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        return old.replace(tzinfo=None) != new.replace(tzinfo=None)
    return bool(old != new)


def _erased(records: Records, f: FieldDef, value: Any, mode: str) -> Any:
    """The value after erasure, before required fields are considered."""
    if value is None or mode == "erase":
        return None
    if f.type in ("picklist", "multi_picklist", "boolean"):
        return value  # a category describes a group, not one person
    if f.type == "date" and isinstance(value, date):
        return _valid(records, f, date(value.year, 1, 1))
    return None


def neutral(records: Records, f: FieldDef, record_id: int, current: Any) -> Any:
    """A placeholder valid for a required field: "Erased 12" for text, an address under the
    reserved .invalid domain for e-mail, the minimum for numbers, the 1st of January of its
    year for dates; picklists keep their value. RecordError when the type has none."""
    text = _("Erased %(id)s", id=record_id)
    candidates: list[Any] = []
    if f.type in TEXT_TYPES:
        candidates = [text[: f.max_length or len(text)]]
    elif f.type == "email":
        candidates = [f"erased-{record_id}@erased.invalid"]
    elif f.type == "phone":
        candidates = ["00000", "0000000000", f"{record_id:05d}"]
    elif f.type == "url":
        candidates = ["https://erased.invalid/"]
    elif f.type in NUMBER_TYPES:
        candidates = [f.min if f.min is not None else 0]
    elif f.type == "boolean":
        candidates = [False]
    elif f.type in ("picklist", "multi_picklist", "lookup", "master_detail", "user"):
        candidates = [current]
    elif f.type == "date":
        candidates = [date(current.year, 1, 1) if isinstance(current, date) else None,
                      date(1900, 1, 1)]
    elif f.type == "datetime":
        candidates = [datetime(current.year, 1, 1, tzinfo=UTC)
                      if isinstance(current, datetime) else None]
    for value in candidates:
        found = _valid(records, f, value)
        if found is not None:
            return found
    raise RecordError(_(
        "%(field)s is required and has no neutral value to replace it with: make it optional "
        "in the YAML, then erase again.", field=f.label_for(get_locale())))


def _valid(records: Records, f: FieldDef, value: Any) -> Any:
    """`value` as the field's Python value when the type accepts it, else None."""
    if value is None:
        return None
    ftype = records.registry.get(f.type)
    try:
        coerced = ftype.to_python(f, value)
    except (FieldValueError, TypeError, ValueError):
        return None
    return None if coerced is None or ftype.validate(f, coerced) else coerced


# --- erase -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Erased:
    """What an erasure did."""

    entity: str
    id: int
    fields: tuple[str, ...]
    cascaded: tuple[tuple[str, int], ...]
    attachments: int
    audit_rows: int

    def as_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "id": self.id, "fields": list(self.fields),
                "cascaded": [{"entity": e, "id": i} for e, i in self.cascaded],
                "attachments_deleted": self.attachments, "audit_entries_scrubbed":
                    self.audit_rows}


def erase(records: Records, entity: str, record_id: int, actor: Actor, mode: str = "erase", *,
          store: AttachmentStore | None = None, who: seclog.Who | None = None) -> Erased:
    """Erase one person's personal data (see the module docstring); admins only. Idempotent:
    a second run changes nothing but records another `erased` entry. Without `store` the
    attachments' rows are deleted but their bytes stay. `who` (the client address, or the
    command line) goes to the security log with the event."""
    if not actor.is_system and "admin" not in actor.roles:
        raise Forbidden(_("Only administrators may erase personal data."))
    changes: list[Change] = []
    keys: set[str] = set()
    scrubbed = 0
    with records.transaction() as conn:
        plan = erase_plan(records, entity, record_id, mode, conn)
        writer = actor if not _read_only(plan) else Actor(None, actor.username, actor.roles,
                                                          actor.locale)
        for t in [plan.target, *plan.cascade]:
            before = _version(records, conn, t)
            if t.values:
                changes.append(records._update(conn, t.entity.name, t.id, t.values, writer,
                                               None))
            names = [f.name for f in personal_fields(records, t.entity.name)]
            scrubbed += _scrub_audit(conn, t.entity.name, t.id, names)
            _scrub_outbox(records, conn, t, names)
            _mark_erased(records, conn, t, actor, before)
        for a in plan.attachments:
            keys.add(a.key)
        keys |= {str(v["key"]) for t in [plan.target, *plan.cascade] for v in t.before.values()
                 if isinstance(v, Mapping) and "key" in v}
        t_att = attachment_table
        conn.execute(t_att.delete().where(t_att.c.entity == entity,
                                          t_att.c.record_id == record_id))
        _seclog(conn, "personal_data_erase", actor, entity, record_id, who, {
            "mode": mode, "fields": list(plan.target.values),
            "linked": [f"{t.entity.name}:{t.id}" for t in plan.cascade if t.values],
            "attachments": len(plan.attachments)})
    for change in changes:
        records._after_commit(change)
    if store is not None:
        _delete_unused(records, store, keys)
    return Erased(entity, record_id, tuple(plan.target.values),
                  tuple((t.entity.name, t.id) for t in plan.cascade if t.values),
                  len(plan.attachments), scrubbed)


def _read_only(plan: ErasePlan) -> bool:
    """True when a read-only field must change (only the system may write those)."""
    return any(f.read_only for t in [plan.target, *plan.cascade] for f in t.fields())


def _version(records: Records, conn: sa.Connection, t: Target) -> int:
    table = records.table(t.entity.name)
    return int(conn.execute(sa.select(table.c.version).where(table.c.id == t.id)).scalar_one())


def _mark_erased(records: Records, conn: sa.Connection, t: Target, actor: Actor,
                 before: int) -> None:
    """Turn the update the erasure wrote into an `erased` entry (no personal values: only the
    placeholders), or add one when nothing changed."""
    changes = {f.name: [None, field_json(records, f, t.values[f.name])] for f in t.fields()}
    now = _version(records, conn, t)
    row = conn.execute(sa.select(audit.c.id, audit.c.changes).where(
        audit.c.entity == t.entity.name, audit.c.record_id == t.id, audit.c.version == now,
        audit.c.action == "update")).first() if now != before else None
    if row is None:
        write_audit(conn, entity=t.entity.name, record_id=t.id, action=ERASED,
                    user_id=actor.id, changes=changes, version=now)
        return
    conn.execute(audit.update().where(audit.c.id == row.id).values(
        action=ERASED, user_id=actor.id, changes={**(row.changes or {}), **changes}))


def _scrub_audit(conn: sa.Connection, entity: str, record_id: int, names: Sequence[str]
                 ) -> int:
    """Remove the personal fields from the record's audit entries; returns how many changed."""
    done = 0
    rows = conn.execute(sa.select(audit.c.id, audit.c.action, audit.c.changes).where(
        audit.c.entity == entity, audit.c.record_id == record_id)).all()
    for row in rows:
        changes = row.changes
        if row.action == ERASED or not isinstance(changes, Mapping) \
                or not set(changes) & set(names):
            continue
        kept = {k: v for k, v in changes.items() if k not in names}
        conn.execute(audit.update().where(audit.c.id == row.id).values(changes=kept))
        done += 1
    return done


def _scrub_outbox(records: Records, conn: sa.Connection, t: Target, names: Sequence[str]
                  ) -> None:
    """Webhook payloads and automation contexts of the record (sent, failed or waiting) hold
    the erased values instead of the personal ones."""
    e = t.entity
    after = {n: field_json(records, e.fields[n], t.values.get(n)) for n in names}
    for table, column, parts in ((webhook_deliveries, "payload", ("data", "changes")),
                                 (automation_runs, "context", ("record", "changes"))):
        rows = conn.execute(sa.select(table.c.id, table.c[column]).where(
            table.c.entity == e.name, table.c.record_id == t.id)).all()
        for row in rows:
            body = row[1]
            if not isinstance(body, Mapping):
                continue
            new = _scrubbed(body, parts, after)
            if new != body:
                conn.execute(table.update().where(table.c.id == row.id).values({column: new}))


def _scrubbed(body: Mapping[str, Any], parts: tuple[str, str], after: Mapping[str, Any]
              ) -> dict[str, Any]:
    """`body` with the values of the record part (`data` / `record`) and of the changes part
    replaced by the erased values."""
    out = dict(body)
    values, changes = out.get(parts[0]), out.get(parts[1])
    if isinstance(values, Mapping):
        out[parts[0]] = {k: after.get(k, v) for k, v in values.items()}
    if isinstance(changes, Mapping):
        out[parts[1]] = {k: ([None, after[k]] if k in after else v) for k, v in changes.items()}
    transition = out.get("transition")
    if isinstance(transition, Mapping) and transition.get("field") in after:
        out["transition"] = {**transition, "from": None, "to": after[transition["field"]]}
    return out


def _delete_unused(records: Records, store: AttachmentStore, keys: Iterable[str]) -> None:
    """Delete the bytes of these keys that no attachment row and no file field still uses."""
    for key in sorted(k for k in keys if k):
        if _key_used(records, key):
            continue
        try:
            path = store.path(key)
        except RecordError:
            continue
        path.unlink(missing_ok=True)


def _key_used(records: Records, key: str) -> bool:
    t = attachment_table
    with records.engine.connect() as conn:
        if conn.execute(sa.select(t.c.id).where(t.c.key == key).limit(1)).first():
            return True
        for e in records.meta:
            spec = records.spec(e.name)
            for f in e:
                if f.type != "file" or f.name not in spec.columns:
                    continue
                col = records.table(e.name).c[spec.columns[f.name]]
                if conn.execute(sa.select(col).where(
                        sa.cast(col, sa.Text).like(f"%{key}%")).limit(1)).first():
                    return True
    return False


def record_export(records: Records, entity: str, record_id: int, actor: Actor, *,
                  who: seclog.Who | None = None) -> None:
    """Note in the security log that `actor` exported this person's data."""
    with records.engine.begin() as conn:
        _seclog(conn, "personal_data_export", actor, entity, record_id, who, {})


def _seclog(conn: sa.Connection, event: str, actor: Actor, entity: str, record_id: int,
            who: seclog.Who | None, detail: Mapping[str, Any]) -> None:
    seclog.record(conn, event, user_id=actor.id, username=actor.username, entity=entity,
                  record_id=record_id, detail=detail or None, who=who)
