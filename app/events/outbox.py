"""The outbox: which webhooks and automations an event matches, their rows, and their retries.

In the record's transaction `record_event` inserts one `sys_webhook_delivery` row per matching
webhook and one `sys_automation_run` row per matching automation whose `when` holds, so a
rollback leaves none and a crash after commit loses none. The subscriptions are those of the
config version the records service runs on (`Change.meta`), worked out once per version; the
worker reads the live version (`live_subscriptions`, through app.migrate.publish).

A worker claims a row (a fresh `claim` token and `claimed_until`, long enough for the timeouts
of the work), does it, and records the outcome with that token: done, or a retry at
`next_attempt_at` (exponential backoff), or `failed` after `webhook_max_attempts` tries. A
worker whose claim ran out and was taken over records nothing (the new holder does).
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app import clock
from app.expr import ExprError, Expression, parse
from app.meta.types import AutomationDef, Meta, WebhookDef
from app.model.system import config_versions
from app.model.system_events import (
    DONE,
    FAILED,
    PENDING,
    automation_runs,
    webhook_deliveries,
)
from app.records.change import Change

log = logging.getLogger(__name__)

#: seconds before the first retry; each next one waits twice as long (capped at MAX_DELAY)
RETRY_BASE = 60.0
MAX_DELAY = 6 * 3600.0
#: seconds a claim lasts beyond the timeouts of the work it covers (see `claim_seconds`)
CLAIM_MARGIN = 60.0
#: key under which a Change carries the outbox rows it made (read after commit)
STASH = "_crm_outbox"
#: key under which a Meta carries its Subscriptions
_MEMO = "_crm_subscriptions"
KINDS = {"deliver": webhook_deliveries, "automation": automation_runs}


def jsonable(value: Any) -> Any:
    """Python record values -> JSON: dates as ISO text, decimals as text."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


@dataclass
class Subscriptions:
    """The webhooks and automations of one config version, with their parsed `when`s and, per
    `(entity, event)`, those that match (worked out on first use)."""

    version: int | None
    webhooks: Mapping[str, WebhookDef] = field(default_factory=dict)
    automations: Mapping[str, AutomationDef] = field(default_factory=dict)
    conditions: dict[str, Expression | None] = field(default_factory=dict)
    matching: dict[tuple[str, str], tuple[list[WebhookDef], list[AutomationDef]]] = field(
        default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.webhooks or self.automations)

    def match(self, entity: str, event: str) -> tuple[list[WebhookDef], list[AutomationDef]]:
        """The active webhooks and automations `<entity>.<event>` concerns (before `when`)."""
        found = self.matching.get((entity, event))
        if found is None:
            found = self.matching.setdefault((entity, event), (
                [h for h in self.webhooks.values() if h.active and h.matches(entity, event)],
                [a for a in self.automations.values()
                 if a.active and a.entity == entity and event in a.on]))
        return found


def subscriptions(meta: Meta, version: int | None = None) -> Subscriptions:
    """The Subscriptions of `meta`, made once and kept on it (a Meta never changes)."""
    subs: Subscriptions | None = vars(meta).get(_MEMO)
    if subs is None:
        from app.meta.approvals_snapshot import approval_automations
        from app.meta.stages import stage_automations

        # the queued actions of stage machines and approval processes run as automations no
        # event triggers (they write their rows themselves: app/workflow/)
        subs = vars(meta).setdefault(_MEMO, Subscriptions(
            version, meta.webhooks, {**meta.automations, **stage_automations(meta),
                                     **approval_automations(meta)}))
    return subs


_LIVE: weakref.WeakKeyDictionary[sa.Engine, Subscriptions] = weakref.WeakKeyDictionary()
_LIVE_LOCK = threading.Lock()


def live_subscriptions(conn: sa.Connection) -> Subscriptions:
    """What the live config version declares (for the worker: one indexed read per call; the
    version is loaded through `active_version` only when it changed)."""
    from app.migrate.publish import active_version, current_version_id

    engine = conn.engine
    cached = _LIVE.get(engine)
    if cached is None and not sa.inspect(conn).has_table(config_versions.name):
        return Subscriptions(None)
    if cached is not None and cached.version == current_version_id(conn):
        return cached
    version, meta = active_version(conn)
    subs = subscriptions(meta, version) if meta is not None else Subscriptions(version)
    with _LIVE_LOCK:
        _LIVE[engine] = subs
    return subs


def _condition(subs: Subscriptions, auto: AutomationDef, change: Change) -> Expression | None:
    if auto.name not in subs.conditions:
        from app.fields import registry
        from app.meta.checks import expr_kinds

        try:
            subs.conditions[auto.name] = parse(auto.when or "true",
                                               expr_kinds(change.entity, registry))
        except ExprError:
            log.exception("automation %s: `when` no longer fits entity %s", auto.name,
                          change.entity.name)
            subs.conditions[auto.name] = None
    return subs.conditions[auto.name]


def _holds(subs: Subscriptions, auto: AutomationDef, change: Change) -> bool:
    if not auto.when:
        return True
    expr = _condition(subs, auto, change)
    if expr is None:
        return False
    try:
        return expr.evaluate(change.record) is True
    except ExprError:
        return False


def record_event(change: Change, event: str, changes: Mapping[str, Any] | None = None,
                 transition: Mapping[str, Any] | None = None) -> None:
    """In the transaction: write the outbox rows `<entity>.<event>` matches."""
    subs = (subscriptions(change.meta) if change.meta is not None
            else live_subscriptions(change.conn))
    if not subs:
        return
    entity = change.entity.name
    hooks, candidates = subs.match(entity, event)
    autos = [a for a in candidates if _holds(subs, a, change)]
    if not hooks and not autos:
        return
    now = datetime.now(UTC)
    record = jsonable(change.record)
    diff = jsonable(changes if changes is not None else {})
    #: encrypted fields go only to webhooks that list them in `fields:`, never to automations
    secret = {f.name for f in change.entity if f.encrypted}
    actor = {"id": change.actor.id, "username": change.actor.username}
    payload: dict[str, Any] = {
        "id": f"evt_{uuid.uuid4().hex}", "event": f"{entity}.{event}", "entity": entity,
        "record_id": change.id, "occurred_at": now.isoformat(), "actor": actor,
    }
    if transition is not None:
        payload["transition"] = jsonable(transition)
    stash: list[tuple[str, int]] = change.__dict__.setdefault(STASH, [])
    row = {"event": f"{entity}.{event}", "entity": entity, "record_id": change.id,
           "status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
    for hook in hooks:
        keep = ("id", *hook.fields) if hook.fields else None
        body = {**payload,
                "data": {k: v for k, v in record.items()
                         if (k in keep if keep is not None else k not in secret)},
                "changes": {k: v for k, v in diff.items()
                            if (k in keep if keep is not None else k not in secret)}}
        rid = change.conn.execute(webhook_deliveries.insert().values(
            **row, webhook=hook.name, payload=body).returning(webhook_deliveries.c.id)
        ).scalar_one()
        stash.append(("deliver", int(rid)))
    for auto in autos:
        context = {"event": event, "record": {k: v for k, v in record.items() if k not in secret},
                   "changes": {k: v for k, v in diff.items() if k not in secret},
                   "actor_id": actor["id"]}
        rid = change.conn.execute(automation_runs.insert().values(
            **row, automation=auto.name, context=context, steps_done=0)
            .returning(automation_runs.c.id)).scalar_one()
        stash.append(("automation", int(rid)))


# --- the worker's side ---------------------------------------------------------------------
def claim_seconds(*timeouts: float) -> float:
    """How long to hold a row for work made of calls with these timeouts: twice each (a timeout
    bounds each network wait, not the whole call) plus CLAIM_MARGIN."""
    return CLAIM_MARGIN + sum(2.0 * float(t) for t in timeouts)


def claim(engine: sa.Engine, table: sa.Table, row_id: int, *, seconds: float,
          force: bool = False) -> dict[str, Any] | None:
    """Take a due, pending row for this worker for `seconds` (None when it is not due, done,
    or another worker holds it). The row returned carries the worker's `claim` token, which
    `hold` and `finish` check."""
    now = clock.now()
    c = table.c
    cond = [c.id == row_id, c.status == PENDING,
            sa.or_(c.claimed_until.is_(None), c.claimed_until < now)]
    if not force:
        cond.append(c.next_attempt_at <= now + timedelta(seconds=1))
    token = uuid.uuid4().hex
    with engine.begin() as conn:
        done = conn.execute(table.update().where(*cond).values(
            claim=token, claimed_until=now + timedelta(seconds=seconds)))
        if done.rowcount != 1:
            return None
        return dict(conn.execute(sa.select(table).where(c.id == row_id)).one()._mapping)


def hold(engine: sa.Engine, table: sa.Table, row: Mapping[str, Any], seconds: float,
         **values: Any) -> bool:
    """Keep the claim on `row` for `seconds` from now, recording `values` (`steps_done`).
    False: the claim ran out and another worker took the row over (stop working on it)."""
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    with engine.begin() as conn:
        done = conn.execute(table.update().where(
            table.c.id == row["id"], table.c.claim == row["claim"])
            .values(claimed_until=until, **values))
    return done.rowcount == 1


def backoff(attempts: int) -> float:
    """Seconds before try `attempts + 1`: RETRY_BASE, twice that, four times ..."""
    return float(min(RETRY_BASE * (2 ** max(attempts - 1, 0)), MAX_DELAY))


def finish(engine: sa.Engine, table: sa.Table, row: Mapping[str, Any], *, ok: bool,
           error: str | None, max_attempts: int, give_up: bool = False,
           **extra: Any) -> float | None:
    """Record one attempt, if this worker still holds the row (`row["claim"]`). Returns the
    delay before the retry, or None when the row is done or failed, or was taken over (then
    the new holder records its own attempt)."""
    now = datetime.now(UTC)
    attempts = int(row["attempts"]) + 1
    values: dict[str, Any] = {"attempts": attempts, "claimed_until": None, "claim": None,
                              "last_error": error, **extra}
    retry: float | None = None
    if ok:
        values.update(status=DONE, finished_at=now)
    elif give_up or attempts >= max_attempts:
        values.update(status=FAILED, finished_at=now)
    else:
        retry = backoff(attempts)
        values.update(status=PENDING, next_attempt_at=now + timedelta(seconds=retry))
    with engine.begin() as conn:
        done = conn.execute(table.update().where(
            table.c.id == row["id"], table.c.claim == row["claim"]).values(**values))
    if done.rowcount != 1:
        log.warning("%s #%s: the claim ran out and another worker took it over; this "
                    "attempt (%s) is not recorded", table.name, row["id"],
                    "ok" if ok else error)
        return None
    return retry


def due(engine: sa.Engine, limit: int = 500) -> list[tuple[str, int]]:
    """Pending rows whose time has come and that no worker holds (for the sweep)."""
    now = datetime.now(UTC)
    out: list[tuple[str, int]] = []
    with engine.connect() as conn:
        for kind, table in KINDS.items():
            if not sa.inspect(conn).has_table(table.name):
                continue
            c = table.c
            ids = conn.execute(sa.select(c.id).where(
                c.status == PENDING, c.next_attempt_at <= now,
                sa.or_(c.claimed_until.is_(None), c.claimed_until < now))
                .order_by(c.id).limit(limit)).scalars()
            out += [(kind, int(i)) for i in ids]
    return out


def redeliver(engine: sa.Engine, delivery_id: int) -> bool:
    """Make a delivery pending again, due now (one more attempt). A delivery a worker is
    sending right now is left to it (that is the attempt). False: no such row."""
    now = datetime.now(UTC)
    c = webhook_deliveries.c
    with engine.begin() as conn:
        done = conn.execute(webhook_deliveries.update().where(
            c.id == delivery_id, sa.or_(c.claimed_until.is_(None), c.claimed_until < now))
            .values(status=PENDING, next_attempt_at=now, claimed_until=None, claim=None,
                    finished_at=None))
        if done.rowcount == 1:
            return True
        return conn.execute(sa.select(c.id).where(c.id == delivery_id)).first() is not None


def new_ping(engine: sa.Engine, webhook: str) -> int:
    """A `ping` delivery for `crm webhooks test`."""
    now = datetime.now(UTC)
    payload = {"id": f"evt_{uuid.uuid4().hex}", "event": "ping", "entity": None,
               "record_id": None, "occurred_at": now.isoformat(),
               "actor": {"id": None, "username": "system"}, "data": {"webhook": webhook},
               "changes": {}}
    with engine.begin() as conn:
        return int(conn.execute(webhook_deliveries.insert().values(
            event="ping", entity="*", record_id=None, status=PENDING, attempts=0,
            next_attempt_at=now, created_at=now, webhook=webhook, payload=payload)
            .returning(webhook_deliveries.c.id)).scalar_one())
