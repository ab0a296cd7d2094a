"""Tasks of the event outbox: deliver a webhook, run an automation, sweep what is due.

Each takes the deployment `Context` first (the queue binds it, see app/tasks/queue.py). A failed
attempt is recorded on its row and scheduled again on the queue after the backoff; the sweep
(at worker start and every minute) picks up anything that was never enqueued or whose scheduled
retry was lost.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from huey import crontab

from app.actions import ActionContext
from app.actions import registry as actions
from app.events import http, outbox, signing
from app.meta.types import ActionRef
from app.model.system_events import automation_runs, webhook_deliveries
from app.tasks.queue import queue_of, task

if TYPE_CHECKING:
    from app.context import Context

log = logging.getLogger(__name__)
TASK_FOR = {"deliver": "events.deliver", "automation": "events.run_automation"}


def _subs(ctx: Context) -> outbox.Subscriptions:
    with ctx.engine.connect() as conn:
        return outbox.live_subscriptions(conn)


def _retry(ctx: Context, kind: str, row_id: int, delay: float | None) -> None:
    queue = queue_of(ctx.engine)
    if delay is not None and queue is not None:
        queue.enqueue_task(TASK_FOR[kind], row_id, delay=delay)


def send(ctx: Context, row: dict[str, Any]) -> http.Answer:
    """One signed POST of a delivery row to its webhook as the live config declares it."""
    hook = _subs(ctx).webhooks.get(row["webhook"])
    if hook is None:
        return http.Answer(None, f"webhook '{row['webhook']}' is no longer declared",
                           permanent=True)
    url = hook.url or os.environ.get(hook.url_env or "", "")
    if not url:
        return http.Answer(None, f"environment variable {hook.url_env} is not set")
    body = json.dumps(row["payload"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/json", "X-CRM-Event": str(row["event"]),
               "X-CRM-Delivery": str(row["id"])}
    if hook.secret_env:
        secret = os.environ.get(hook.secret_env)
        if not secret:  # never send unsigned what the config says must be signed
            return http.Answer(None, f"environment variable {hook.secret_env} is not set")
        headers["X-CRM-Signature"] = signing.signature(secret, body)
    return http.post(url, body, headers, ctx.settings.webhook_timeout)


@task("events.deliver")
def deliver(ctx: Context, delivery_id: int, force: bool = False) -> http.Answer | None:
    """Try one delivery (when it is due and no other worker holds it)."""
    row = outbox.claim(ctx.engine, webhook_deliveries, delivery_id, force=force,
                       seconds=outbox.claim_seconds(ctx.settings.webhook_timeout))
    if row is None:
        return None
    try:
        answer = send(ctx, row)
    except Exception as exc:  # a bug must not leave the row claimed: record it and retry
        log.exception("webhook delivery %s failed", delivery_id)
        answer = http.Answer(None, f"{type(exc).__name__}: {exc}")
    delay = outbox.finish(ctx.engine, webhook_deliveries, row, ok=answer.ok,
                          error=answer.error, max_attempts=ctx.settings.webhook_max_attempts,
                          give_up=answer.permanent, last_status_code=answer.status)
    _retry(ctx, "deliver", delivery_id, delay)
    return answer


def step_timeout(ctx: Context, step: ActionRef) -> float:
    """The longest a step should take: its own `timeout` parameter, else `webhook_timeout`."""
    given = step.params.get("timeout")
    if isinstance(given, int | float) and not isinstance(given, bool) and given > 0:
        return float(given)
    return float(ctx.settings.webhook_timeout)


@task("events.run_automation")
def run_automation(ctx: Context, run_id: int) -> None:
    """Run an automation's actions in order, continuing after those a failed try finished.
    The claim covers the timeouts of the steps left; each step done is recorded at once."""
    row = outbox.claim(ctx.engine, automation_runs, run_id,
                       seconds=outbox.claim_seconds(ctx.settings.webhook_timeout))
    if row is None:
        return
    auto = _subs(ctx).automations.get(row["automation"])
    if auto is None:
        outbox.finish(ctx.engine, automation_runs, row, ok=False, give_up=True,
                      error=f"automation '{row['automation']}' is no longer declared",
                      max_attempts=1)
        return
    context = row["context"]
    action_ctx = ActionContext(ctx=ctx, entity=row["entity"], event=context["event"],
                               record=context["record"], changes=context.get("changes") or {},
                               actor_id=context.get("actor_id"))
    done = int(row["steps_done"])
    error: str | None = None
    budget = [step_timeout(ctx, step) for step in auto.actions]
    if not outbox.hold(ctx.engine, automation_runs, row, outbox.claim_seconds(*budget[done:])):
        return
    for step in auto.actions[done:]:
        action = actions.get(step.action)
        try:
            if action is None:
                raise LookupError(f"action '{step.action}' is not registered")
            action.run(action_ctx, step.params)
        except Exception as exc:
            log.warning("automation %s, action %s failed: %s", auto.name, step.action, exc)
            error = f"{step.action}: {type(exc).__name__}: {exc}"
            break
        done += 1
        if not outbox.hold(ctx.engine, automation_runs, row,
                           outbox.claim_seconds(*budget[done:]), steps_done=done):
            log.warning("automation run %s: the claim ran out and another worker took it "
                        "over; stopping after step %s", run_id, done)
            return
    delay = outbox.finish(ctx.engine, automation_runs, row, ok=error is None, error=error,
                          max_attempts=ctx.settings.webhook_max_attempts, steps_done=done)
    _retry(ctx, "automation", run_id, delay)


@task("events.sweep", periodic=crontab(minute="*"))
def sweep(ctx: Context) -> int:
    """Enqueue every pending row whose time has come (after a crash between commit and
    enqueue, a lost scheduled retry, or rows written where no queue was made)."""
    queue = queue_of(ctx.engine)
    try:
        rows = outbox.due(ctx.engine)
    except sa.exc.OperationalError:  # the system tables are not there yet
        return 0
    for kind, row_id in rows:
        if queue is not None:
            queue.enqueue_task(TASK_FOR[kind], row_id)
        elif kind == "deliver":
            deliver(ctx, row_id)
        else:
            run_automation(ctx, row_id)
    return len(rows)
