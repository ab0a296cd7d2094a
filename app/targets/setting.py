"""Setting a period's targets for a team at once: its own target and one per member, in one
form, all saved in one transaction through the records service.

    sheet = sheet_for(records, actor, period, metric, team="east")   # the rows to show
    outcome = save_sheet(records, actor, period, metric, team="east",
                         values={"team": "500000", "7": "200000", "8": ""})

`values` maps a row key (`team`, or a member's user id as text) to what was typed: empty
means no target (an existing target cannot be removed here: that is a delete, on its page).
Every row is checked first (a dry run of the records service's bulk path, which runs every
check of a create or an edit: the field's type and bounds, rules, the targets' own checks,
permissions); when any row is refused nothing is saved and each refused row gets its
messages. Otherwise the creates and edits are written by `Records.write_many`, all or
nothing. A rep's target is owned by that rep (so they read it in the sales target list); a
team's by whoever sets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.i18n import _, get_locale
from app.meta.targets import TARGET_ENTITY, MetricDef
from app.records.bulk import BulkRow
from app.records.change import Actor
from app.records.errors import RECORD, Forbidden, ItemFailed, NotFound, RecordError
from app.records.service import Records
from app.records.values import field_label
from app.targets.periods import Period
from app.targets.service import Number, people, targets_of, team_labels

TEAM_ROW = "team"


@dataclass(frozen=True)
class SheetRow:
    """One row of the form: the team itself (`key` "team") or one member (`key` their id)."""

    key: str
    name: str
    user_id: int | None
    team: str | None
    current: Number | None
    target_id: int | None
    version: int | None
    #: whether the actor may change this row's existing target (True when there is none)
    editable: bool = True


@dataclass(frozen=True)
class Sheet:
    period: Period
    metric: MetricDef
    team: str
    team_label: str
    rows: tuple[SheetRow, ...]


@dataclass
class Outcome:
    #: row key -> messages (empty: everything saved)
    errors: dict[str, list[str]] = field(default_factory=dict)
    created: int = 0
    updated: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def sheet_for(records: Records, actor: Actor, period: Period, metric: MetricDef,
              team: str) -> Sheet:
    """The rows of the form for `team`: the team, then its active members by name."""
    if not records.access(actor).allows(TARGET_ENTITY, "create"):
        raise Forbidden(_("You may not set sales targets."))
    labels = team_labels(records)
    if team not in labels:
        raise NotFound(_("There is no team '%(team)s'; the teams are: %(teams)s.",
                         team=str(team)[:60], teams=", ".join(labels) or "-"))
    with records.engine.connect() as conn:
        who = people(conn)
        existing = targets_of(records, metric, period, conn)
    by_user = {t.user_id: t for t in existing if t.user_id is not None}
    own = next((t for t in existing if t.team == team and t.user_id is None), None)
    members = sorted((uid for uid in who.members.get(team, ()) if uid in who.active),
                     key=lambda uid: (who.names[uid].casefold(), uid))
    found = [own, *(by_user.get(uid) for uid in members)]
    mine = _editable(records, actor, [t.id for t in found if t is not None])
    rows: list[SheetRow] = []
    for key, name, uid, t in [(TEAM_ROW, labels[team], None, own),
                              *((str(u), who.names[u], u, by_user.get(u)) for u in members)]:
        rows.append(SheetRow(key, name, uid, team if uid is None else None,
                             t.value if t else None, t.id if t else None,
                             t.version if t else None, t is None or t.id in mine))
    return Sheet(period, metric, team, labels[team], tuple(rows))


def _editable(records: Records, actor: Actor, ids: list[int]) -> set[int]:
    """Which of these targets `actor` may change (one query)."""
    acc = records.access(actor)
    if not ids:
        return set()
    if acc.unrestricted:
        return set(ids)
    table = records.table(TARGET_ENTITY)
    where = acc.where(TARGET_ENTITY, "edit")
    stmt = sa.select(table.c.id).where(table.c.id.in_(ids))
    if where is not None:
        stmt = stmt.where(where)
    with records.engine.connect() as conn:
        return {int(i) for i in conn.execute(stmt).scalars()}


def _parse(records: Records, metric: MetricDef, text: str) -> Any:
    """What was typed, read as the target field reads a form's text (`¥200,000`, `12`);
    FieldValueError (a ValueError) says why it is no number."""
    f = records.entity(TARGET_ENTITY).fields[metric.target_field]
    return records.registry.get(f.type).parse_text(f, text)


def _values(sheet: Sheet, row: SheetRow, value: Any) -> dict[str, Any]:
    m = sheet.metric
    if row.target_id is not None:
        return {m.target_field: value}
    values: dict[str, Any] = {"metric": m.name, "period_type": sheet.period.kind,
                              "period_start": sheet.period.start, m.target_field: value}
    if row.user_id is not None:
        values["assignee"] = row.user_id
        values["owner"] = row.user_id
    else:
        values["team"] = row.team
    return values


def _messages(records: Records, errors: Mapping[str, list[str]]) -> list[str]:
    e = records.entity(TARGET_ENTITY)
    out: list[str] = []
    for name, messages in errors.items():
        f = e.fields.get(name)
        for message in messages:
            out.append(message if name == RECORD or f is None
                       else f"{field_label(f)}: {message}")
    return out


def save_sheet(records: Records, actor: Actor, period: Period, metric: MetricDef,
               team: str, values: Mapping[str, str]) -> Outcome:
    """Save what was typed for the rows of `team`'s sheet (see the module docstring)."""
    sheet = sheet_for(records, actor, period, metric, team)
    outcome = Outcome()
    rows: list[BulkRow] = []
    keys: list[str] = []
    versions: list[int | None] = []
    for index, row in enumerate(sheet.rows):
        text = str(values.get(row.key, "") or "").strip()[:60]
        if not row.editable:
            if text not in ("", form_text(row.current)):
                outcome.errors[row.key] = [_(
                    "You may not change this target: it was set by someone above you.")]
            continue
        if text == "":
            if row.target_id is not None:
                outcome.errors[row.key] = [_(
                    "A target cannot be removed here: open it and delete it.")]
            continue
        try:
            value = _parse(records, metric, text)
        except ValueError as exc:
            outcome.errors[row.key] = [str(exc)]
            continue
        rows.append(BulkRow(index, _values(sheet, row, value), row.target_id))
        keys.append(row.key)
        versions.append(row.version)
    if outcome.errors or not rows:
        return outcome
    checked = records.import_rows(TARGET_ENTITY, rows, actor, dry_run=True)
    key_of = {r.key: k for r, k in zip(rows, keys, strict=True)}
    for failed in checked.failed:
        outcome.errors[key_of[failed.key]] = _messages(records, failed.errors)
    if outcome.errors:
        return outcome
    items = [(r.record_id, r.values, v) for r, v in zip(rows, versions, strict=True)]
    try:
        records.write_many(TARGET_ENTITY, items, actor)
    except ItemFailed as exc:  # changed since the dry run (another manager saved meanwhile)
        error = exc.error
        detail = getattr(error, "errors", None)
        outcome.errors[keys[exc.index]] = (_messages(records, detail) if detail
                                           else [error.message])
        return outcome
    except RecordError as exc:
        outcome.errors[TEAM_ROW] = [exc.message]
        return outcome
    outcome.created = sum(1 for r in rows if r.record_id is None)
    outcome.updated = len(rows) - outcome.created
    return outcome


def form_text(value: Number | None) -> str:
    """A target as the form shows it (`250000.00`, `12`)."""
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def team_choices(records: Records) -> list[tuple[str, str]]:
    """(name, label) of the teams, in the access config's order."""
    return list(team_labels(records, get_locale()).items())
