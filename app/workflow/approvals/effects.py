"""What an approval operation does besides its own rows: the process's actions on the record
(`set`, `create_activity`, `notify` in the transaction; the others queued after commit) and the
notifications to the people involved. Every operation runs in one `Op` (one transaction)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.actions import ActionContext
from app.i18n import _, get_locale
from app.meta.approvals import NOTIFY, NOW, ApproverDef
from app.meta.approvals_snapshot import run_name
from app.meta.types import ActionRef, label_text, thaw
from app.records.change import SYSTEM, Change
from app.workflow.approvals.routing import Directory, recipients

if TYPE_CHECKING:
    from app.records.service import Records
    from app.settings import Settings


@dataclass
class Op:
    """One approval operation: its transaction, the time it happens at, the people, and what
    to hand over after commit."""

    rs: Records
    settings: Settings
    conn: sa.Connection
    now: datetime
    directory: Directory
    changes: list[Change] = field(default_factory=list)
    notified: int = 0

    def title(self, entity: str, record_id: int) -> str:
        return self.rs.titles(entity, [record_id], self.conn).get(
            record_id, f"{entity} #{record_id}")

    def record(self, entity: str, record_id: int) -> dict[str, Any]:
        return self.rs._get(entity, record_id, conn=self.conn)

    def after_commit(self) -> None:
        for change in self.changes:
            self.rs._after_commit(change)
        if self.notified:
            from app.notify import enqueue_pending

            enqueue_pending(self.rs.engine)


def record_link(entity: str, record_id: int) -> str:
    return f"/{entity}/{record_id}"


def tell(op: Op, user_ids: Iterable[int], kind: str, entity: str, record_id: int,
         compose: Callable[[], tuple[str, str]]) -> None:
    """Notify `user_ids` (in-app and by mail) about the record."""
    from app.notify import Notice, notify

    ids = [u for u in dict.fromkeys(user_ids) if u is not None]
    if not ids:
        return
    notify(op.conn, op.settings, ids, Notice(kind=kind, compose=compose,
                                             link=record_link(entity, record_id),
                                             entity=entity, record_id=record_id))
    op.notified += len(ids)


def entity_label(op: Op, entity: str) -> str:
    return op.rs.entity(entity).label_for(get_locale())


def labelled(labels: Mapping[str, str], name: str) -> str:
    return label_text(labels, get_locale(), name.replace("_", " ").capitalize())


def run_actions(op: Op, entity: str, record_id: int, refs: Iterable[ActionRef], *,
                kind: str, name: str, event: str, submitter_id: int | None = None,
                approvers: Iterable[int] = ()) -> Change:
    """Run `refs` on the record as the system: one update with every `set`, then the
    activities and notifications, then one queued run for the other actions. Returns the
    record's Change (its after-commit hooks run after the operation commits)."""
    from app.workflow.plugin import create_activity, queue_run

    refs = list(refs)
    values: dict[str, Any] = {}
    spec = op.rs.spec(entity)
    for ref in refs:
        if ref.action == "set":
            for key, value in ref.params.items():
                values[key] = _value(spec.entity.fields[key].type, thaw(value), op.now)
    change = op.rs._update(op.conn, entity, record_id, values, SYSTEM, None)
    op.changes.append(change)
    what = f"{kind} {name}"
    record = change.record
    for ref in refs:
        if ref.action == "create_activity":
            create_activity(change, what, ref.params)
        elif ref.action == NOTIFY:
            _notify(op, entity, record_id, record, ref.params, submitter_id, approvers)
    if any(r.action not in ("set", "create_activity", NOTIFY) for r in refs):
        queue_run(change, run_name(kind, name, event), f"{kind}_{event}".removesuffix("_"),
                  {}, {kind: name})
    return change


def _value(ftype: str, value: Any, now: datetime) -> Any:
    if value == NOW and ftype == "datetime":
        return now
    if value == NOW and ftype == "date":
        return now.date()
    return value


def _notify(op: Op, entity: str, record_id: int, record: Mapping[str, Any],
            params: Mapping[str, Any], submitter_id: int | None,
            approvers: Iterable[int]) -> None:
    specs = [ApproverDef.of(thaw(raw)) for raw in params.get("to") or ()]
    who = recipients(op.directory, specs, record, submitter_id, approvers)
    secret = {f.name for f in op.rs.entity(entity) if f.encrypted}
    texts = ActionContext(ctx=None, entity=entity, event="approval",  # type: ignore[arg-type]
                          record={k: v for k, v in _jsonable(record).items()
                                  if k not in secret})
    subject = texts.render(str(params["subject"]))
    body = texts.render(str(params.get("body") or ""))
    from app.notify import Notice, notify

    if who:
        notify(op.conn, op.settings, who,
               Notice(kind="workflow.notify", compose=lambda: (subject, body),
                      link=record_link(entity, record_id), entity=entity,
                      record_id=record_id),
               email=bool(params.get("email", True)))
        op.notified += len(who)


def _jsonable(record: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in record.items():
        out[k] = v.isoformat() if isinstance(v, date | datetime) else v
    return out


def due_text(when: datetime | None) -> str:
    from app.i18n import format_datetime

    return format_datetime(when) if when is not None else _("no deadline")
