"""`crm workflow`: the approval processes, stage machines and escalations of the live config,
and approvals from the command line (app/workflow/approvals/): simulate, submit, approve,
reject, recall, reassign as a user, a user's inbox, statistics, the timer (reminders and
escalations now, or as if at a moment) and out-of-office delegations.

Each command works on the live config version and acts as the user named by `--as`, with that
user's permissions; a refusal prints "Refused: <why>" and exits with EXIT_REFUSED. Mail and
webhook work goes through the deployment's task queue, as in the web app.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
import sqlalchemy as sa

from app.cli_errors import EXIT_REFUSED, friendly
from app.context import Context
from app.i18n import _, get_locale
from app.meta.approvals import ApproverDef, StepDef
from app.meta.types import label_text
from app.model.approvals import approval_tasks, approvals
from app.model.system import users
from app.records import Actor, RecordError, Records, ValidationFailed
from app.records.errors import RECORD
from app.textnum import SQL_INT_MAX
from app.workflow.approvals.engine import Approvals
from app.workflow.approvals.inbox import Inbox, Item

BOXES = ("pending", "submitted", "history")
ID = click.IntRange(1, SQL_INT_MAX)
#: control characters (titles and comments come from users: no terminal escapes)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Moment(click.ParamType):
    """An ISO 8601 date and time (no offset: UTC), as aware UTC."""

    name = "datetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value).strip())
            return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        except (ValueError, OverflowError):
            self.fail(_("'%(value)s' is not a date and time like 2026-11-02T09:00 (UTC) or "
                        "2026-11-02T17:00+08:00.", value=str(value)[:60]), param, ctx)


# --- helpers ---------------------------------------------------------------------------------
def _live(ctx: Context) -> Records:
    """The live version's records service (as the system), with the task queue made first so
    notifications and queued actions go out."""
    from app.cli_privacy import live_records

    ctx.queue  # noqa: B018  (made as the web app and the worker make it)
    return live_records(ctx)


def _user(ctx: Context, username: str) -> Actor:
    with ctx.engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.username, users.c.roles,
                                     users.c.active).where(users.c.username == username)).first()
    if row is None or not row.active:
        raise click.ClickException(_("There is no active user '%(name)s'.", name=username))
    return Actor(int(row.id), row.username, tuple(row.roles or ()), get_locale())


def _acting(ctx: Context, rs: Records, who: Actor) -> Approvals:
    """The approval operations reading and acting as `who`."""
    return Approvals(Records(rs.engine, rs.models, plugins=rs.plugins, actor=who), ctx.settings)


def _refused(exc: RecordError) -> NoReturn:
    click.secho(f"Refused: {exc.message}", fg="red", err=True)
    if isinstance(exc, ValidationFailed):  # the problems besides the one in the message
        for field, problems in exc.errors.items():
            for problem in problems:
                line = problem if field == RECORD else f"{field}: {problem}"
                if line != exc.message:
                    click.echo(f"  {line}", err=True)
    sys.exit(EXIT_REFUSED)


def _clean(text: str, *, lines: bool = False) -> str:
    """`text` without control characters (`lines`: but with its line breaks)."""
    if lines:
        return "\n".join(_CONTROL.sub("?", line) for line in text.split("\n"))
    return _CONTROL.sub("?", text)


def _at(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment is not None else ""


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _where(ctx: Context, *, approval_id: int | None = None, task_id: int | None = None
           ) -> tuple[str, int, int] | None:
    """(entity, record id, approval id) of an approval or of a task's approval."""
    a = approvals.c
    stmt = sa.select(a.entity, a.record_id, a.id)
    if task_id is not None:
        stmt = stmt.join(approval_tasks, approval_tasks.c.approval_id == a.id).where(
            approval_tasks.c.id == task_id)
    else:
        stmt = stmt.where(a.id == approval_id)
    with ctx.engine.connect() as conn:
        row = conn.execute(stmt).first()
    return (str(row.entity), int(row.record_id), int(row.id)) if row is not None else None


def _state(ctx: Context, rs: Records, *, approval_id: int | None = None,
           task_id: int | None = None) -> None:
    """Say where the approval stands now."""
    found = _where(ctx, approval_id=approval_id, task_id=task_id)
    if found is None:
        return
    entity, record_id, aid = found
    view = next(v for v in Inbox(rs).of_record(entity, record_id) if v.id == aid)
    what = _clean(f"{rs.entity(entity).label_for(get_locale())} "
                  f"{rs.titles(entity, [record_id]).get(record_id, '')} (#{record_id})")
    if view.status != "pending":
        click.echo(_("Approval #%(id)s (%(process)s) of %(what)s is %(status)s.", id=aid,
                     process=view.process_label, what=what, status=view.status))
        return
    waiting = [t.assignee or _("queue %(team)s", team=t.queue or "") for t in view.tasks
               if t.status == "open"]
    click.echo(_("Approval #%(id)s (%(process)s) of %(what)s waits for %(who)s (step "
                 "%(step)s).", id=aid, process=view.process_label, what=what,
                 who=", ".join(waiting), step=view.step_label))


# --- the group -------------------------------------------------------------------------------
@click.group("workflow")
def workflow() -> None:
    """Approvals, stage machines and escalations: list, simulate, act, inbox, stats, tick."""


@workflow.command("list")
@click.pass_obj
@friendly
def list_command(ctx: Context) -> None:
    """The approval processes, stage machines and escalations of the live config."""
    meta = _live(ctx).meta
    loc = get_locale()
    click.echo(_("Approval processes:"))
    for p in meta.approvals.values():
        click.echo(f"  {p.name} ({p.entity}): {label_text(p.label, loc, p.name)}")
        facts = [_("when %(expr)s", expr=p.when) if p.when else _("every record"),
                 _("submitted by %(roles)s", roles=", ".join(p.submitters)) if p.submitters
                 else _("submitted by whoever may edit it"),
                 _("locked while pending") if p.lock else _("not locked")]
        click.echo("    " + "; ".join(facts))
        for i, step in enumerate(p.steps, 1):
            click.echo(f"    {i}. {_step(step, loc)}")
    if not meta.approvals:
        click.echo("  " + _("none"))
    click.echo(_("Stage machines:"))
    for m in meta.stages.values():
        initial = ", ".join(m.initial) or _("any value")
        click.echo("  " + _("%(name)s (%(entity)s.%(field)s): %(n)s transitions, starts at "
                            "%(initial)s", name=m.name, entity=m.entity, field=m.field,
                            n=len(m.transitions), initial=initial))
    if not meta.stages:
        click.echo("  " + _("none"))
    click.echo(_("Escalations:"))
    for e in meta.escalations.values():
        facts = [_("deadline %(field)s", field=e.deadline)]
        if e.warn_before:
            facts.append(_("warns %(before)s before", before=e.warn_before))
        facts.append(_("breached %(after)s after", after=e.after or "0h"))
        if e.when:
            facts.append(_("when %(expr)s", expr=e.when))
        click.echo(f"  {e.name} ({e.entity}): " + "; ".join(facts))
    if not meta.escalations:
        click.echo("  " + _("none"))


def _who(specs: tuple[ApproverDef, ...]) -> str:
    return "[" + ", ".join(f"{a.kind}: {a.value}" if a.value else a.kind for a in specs) + "]"


def _step(step: StepDef, loc: str) -> str:
    head = f"{step.name}: {label_text(step.label, loc, step.name)}"
    facts = [_("approvers %(who)s", who=_who(step.approvers))]
    if step.when:
        facts.insert(0, _("when %(expr)s", expr=step.when))
    if step.fallback:
        facts.append(_("fallback %(who)s", who=_who(step.fallback)))
    facts.append(_("mode %(mode)s", mode=step.mode + (f" {step.at_least}"
                                                      if step.mode == "at_least" else "")))
    if step.on_reject != "final":
        facts.append(_("a rejection goes back a step"))
    if step.remind_after:
        facts.append(_("reminds after %(after)s", after=step.remind_after))
    if step.escalate_after:
        facts.append(_("escalates after %(after)s to %(who)s", after=step.escalate_after,
                       who=_who(step.escalate_to)))
    return head + " (" + "; ".join(facts) + ")"


@workflow.command("simulate")
@click.argument("entity")
@click.argument("record_id", type=ID)
@click.option("--as", "username", required=True, help="the user who would submit it")
@click.option("--process", default=None, help="only this process (default: all of ENTITY)")
@click.option("--json", "as_json", is_flag=True, help="print the simulation as JSON")
@click.pass_obj
@friendly
def simulate_command(ctx: Context, entity: str, record_id: int, username: str,
                     process: str | None, as_json: bool) -> None:
    """Who would approve ENTITY #RECORD_ID, through which steps, if USER submitted it now.
    Changes nothing."""
    from app.workflow.approvals.simulate import simulate

    rs = _live(ctx)
    who = _user(ctx, username)
    service = Approvals(rs, ctx.settings)
    try:
        rs.entity(entity)
        if process is not None and process not in {p.name for p in service.processes(entity)}:
            raise RecordError(_("%(entity)s has no approval process %(name)s.", entity=entity,
                                name=process))
        result = simulate(service, entity, record_id, who, process)
    except RecordError as exc:
        _refused(exc)
    if as_json:
        _dump(result.as_json())
    else:
        click.echo(_clean(result.text(), lines=True))


@workflow.command("submit")
@click.argument("entity")
@click.argument("record_id", type=ID)
@click.option("--as", "username", required=True, help="the user who submits")
@click.option("--process", default=None, help="the process (default: the first the record "
              "meets)")
@click.option("--comment", default=None)
@click.pass_obj
@friendly
def submit_command(ctx: Context, entity: str, record_id: int, username: str,
                   process: str | None, comment: str | None) -> None:
    """Submit ENTITY #RECORD_ID for approval as USER."""
    rs = _live(ctx)
    who = _user(ctx, username)
    try:
        approval_id = _acting(ctx, rs, who).submit(entity, record_id, who, process=process,
                                                   comment=comment)
    except RecordError as exc:
        _refused(exc)
    _state(ctx, rs, approval_id=approval_id)


def _decide(ctx: Context, task_id: int, username: str, comment: str | None, approve: bool
            ) -> None:
    rs = _live(ctx)
    who = _user(ctx, username)
    try:
        _acting(ctx, rs, who).decide(task_id, who, approve=approve, comment=comment)
    except RecordError as exc:
        _refused(exc)
    click.echo(_("Task #%(id)s approved.", id=task_id) if approve
               else _("Task #%(id)s rejected.", id=task_id))
    _state(ctx, rs, task_id=task_id)


@workflow.command("approve")
@click.argument("task_id", type=ID)
@click.option("--as", "username", required=True, help="the approver")
@click.option("--comment", default=None)
@click.pass_obj
@friendly
def approve_command(ctx: Context, task_id: int, username: str, comment: str | None) -> None:
    """Approve approval task TASK_ID as USER."""
    _decide(ctx, task_id, username, comment, True)


@workflow.command("reject")
@click.argument("task_id", type=ID)
@click.option("--as", "username", required=True, help="the approver")
@click.option("--comment", default=None)
@click.pass_obj
@friendly
def reject_command(ctx: Context, task_id: int, username: str, comment: str | None) -> None:
    """Reject approval task TASK_ID as USER."""
    _decide(ctx, task_id, username, comment, False)


@workflow.command("recall")
@click.argument("approval_id", type=ID)
@click.option("--as", "username", required=True, help="the submitter (or an admin)")
@click.option("--comment", default=None)
@click.pass_obj
@friendly
def recall_command(ctx: Context, approval_id: int, username: str, comment: str | None
                   ) -> None:
    """Recall pending approval APPROVAL_ID as USER."""
    rs = _live(ctx)
    who = _user(ctx, username)
    try:
        _acting(ctx, rs, who).recall(approval_id, who, comment=comment)
    except RecordError as exc:
        _refused(exc)
    _state(ctx, rs, approval_id=approval_id)


@workflow.command("reassign")
@click.argument("task_id", type=ID)
@click.option("--to", "to", required=True, help="the user who gets the task")
@click.option("--as", "username", required=True, help="the approver (or an admin)")
@click.option("--comment", default=None)
@click.pass_obj
@friendly
def reassign_command(ctx: Context, task_id: int, to: str, username: str,
                     comment: str | None) -> None:
    """Give approval task TASK_ID to another user, as USER."""
    rs = _live(ctx)
    who = _user(ctx, username)
    target = _user(ctx, to)
    try:
        new_id = _acting(ctx, rs, who).reassign(task_id, who, int(target.id or 0),
                                                comment=comment)
    except RecordError as exc:
        _refused(exc)
    click.echo(_("Task #%(old)s reassigned to %(to)s: task #%(new)s.", old=task_id,
                 to=target.username, new=new_id))
    _state(ctx, rs, task_id=new_id)


# --- reading ---------------------------------------------------------------------------------
def _item_line(item: Item, box: str) -> str:
    what = f"{item.entity_label} {item.title} (#{item.record_id})"
    step = f"{item.process_label} / {item.step_label}" if item.step_label else item.process_label
    if box == "submitted":
        line = f"approval #{item.approval_id}  {what}  {item.process_label}  {item.status}  " \
            + _at(item.submitted_at)
    elif box == "pending":
        line = f"task #{item.task_id}  {what}  {step}  " + _("from %(who)s", who=item.submitted_by)
        if item.delegated_from:
            line += "  " + _("for %(who)s", who=item.delegated_from)
        if item.queue:
            line += "  " + _("queue %(team)s", team=item.queue)
        if item.due_at:
            line += "  " + _("due %(at)s", at=_at(item.due_at))
        if item.overdue:
            line += "  " + _("OVERDUE")
    else:
        line = f"task #{item.task_id}  {what}  {step}  {item.status} {_at(item.decided_at)}"
        if item.comment:
            line += f'  "{item.comment}"'
    return "  " + _clean(line)


@workflow.command("inbox")
@click.option("--as", "username", required=True, help="whose inbox")
@click.option("--box", type=click.Choice(BOXES), default="pending", show_default=True,
              help="tasks waiting for them, what they submitted, or tasks they decided")
@click.option("--json", "as_json", is_flag=True, help="print the items as JSON")
@click.pass_obj
@friendly
def inbox_command(ctx: Context, username: str, box: str, as_json: bool) -> None:
    """A user's approvals inbox."""
    rs = _live(ctx)
    who = _user(ctx, username)
    reader = Inbox(Records(rs.engine, rs.models, plugins=rs.plugins, actor=who))
    items = {"pending": reader.pending_for, "submitted": reader.submitted_by,
             "history": reader.history_of}[box](who)
    if as_json:
        _dump([i.as_json() for i in items])
        return
    n = len(items)
    click.echo({"pending": _("Pending for %(who)s: %(n)s", who=username, n=n),
                "submitted": _("Submitted by %(who)s: %(n)s", who=username, n=n),
                "history": _("Decided by %(who)s: %(n)s", who=username, n=n)}[box])
    for item in items:
        click.echo(_item_line(item, box))


@workflow.command("stats")
@click.option("--process", default=None, help="only this process")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="only approvals submitted since this day (UTC)")
@click.option("--json", "as_json", is_flag=True, help="print the statistics as JSON")
@click.pass_obj
@friendly
def stats_command(ctx: Context, process: str | None, since: datetime | None,
                  as_json: bool) -> None:
    """Approvals per process and step: outcomes, approval rate, time to a decision, open and
    overdue tasks."""
    from app.workflow.approvals.stats import overdue, statistics

    rs = _live(ctx)
    if process is not None and process not in rs.meta.approvals:
        raise click.ClickException(_("There is no approval process %(name)s.", name=process))
    start = since.replace(tzinfo=UTC) if since is not None else None
    with ctx.engine.connect() as conn:
        found = statistics(conn, process=process, since=start)
        late = overdue(conn)
    if as_json:
        _dump({"data": [s.as_json() for s in found], "overdue": late})
        return
    for line in _stats_table(found):
        click.echo(line)
    click.echo(_("Overdue tasks now (all processes): %(n)s", n=late))


def _stats_table(found: list[Any]) -> list[str]:
    from app.web.approvals import duration_text

    if not found:
        return [_("No approvals.")]
    lines: list[str] = []
    for ps in found:
        rate = ps.approval_rate
        lines.append(_("%(label)s (%(name)s): %(submitted)s submitted, %(approved)s approved, "
                       "%(rejected)s rejected, %(recalled)s recalled, %(pending)s pending; "
                       "approval rate %(rate)s", label=ps.label, name=ps.process,
                       submitted=ps.submitted, approved=ps.approved, rejected=ps.rejected,
                       recalled=ps.recalled, pending=ps.pending,
                       rate=f"{rate:.0%}" if rate is not None else "-"))
        head = [_("step"), _("decided"), _("approved"), _("rejected"), _("open"),
                _("overdue"), _("average"), _("90th pct")]
        rows = [[s.label, str(s.decided), str(s.approved), str(s.rejected), str(s.open),
                 str(s.overdue), duration_text(s.avg_seconds) or "-",
                 duration_text(s.p90_seconds) or "-"] for s in ps.steps.values()]
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        for row in [head, *rows]:
            cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in
                                                   zip(row[1:], widths[1:], strict=True)]
            lines.append("  " + "  ".join(cells).rstrip())
    return lines


# --- time and delegation ---------------------------------------------------------------------
@workflow.command("tick")
@click.option("--at", "at", type=Moment(), default=None,
              help="run as if it were this moment (ISO 8601; no offset: UTC)")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.pass_obj
@friendly
def tick_command(ctx: Context, at: datetime | None, as_json: bool) -> None:
    """Send the reminders, escalate the tasks and fire the escalation rules due now (what the
    task queue does every minute)."""
    from app import clock
    from app.workflow.approvals.timers import tick

    rs = _live(ctx)
    moment = at or clock.now()
    with clock.frozen(moment):
        report = tick(rs, ctx.settings)
    if as_json:
        _dump({"at": moment.isoformat(), **report.as_json()})
        return
    click.echo(_("Workflow timer at %(at)s:", at=_at(moment)))
    ids = ", ".join(f"#{i}" for i in report.reminded) or _("none")
    click.echo("  " + _("reminded tasks: %(ids)s", ids=ids))
    ids = ", ".join(f"#{i}" for i in report.escalated) or _("none")
    click.echo("  " + _("escalated tasks: %(ids)s", ids=ids))
    fired = ", ".join(f"{rule} #{rid} ({kind})" for rule, rid, kind in report.fired)
    click.echo("  " + _("escalation rules fired: %(what)s", what=fired or _("none")))
    for problem in report.problems:
        click.secho("  " + _("problem: %(text)s", text=_clean(problem)), fg="red")


@workflow.command("delegate")
@click.argument("username")
@click.option("--to", "to", default=None, help="the delegate who gets USER's new tasks")
@click.option("--from", "starts_at", type=Moment(), default=None,
              help="from this moment (default: now)")
@click.option("--until", "ends_at", type=Moment(), default=None,
              help="until this moment (default: until cleared)")
@click.option("--clear", is_flag=True, help="stop delegating USER's approval tasks")
@click.pass_obj
@friendly
def delegate_command(ctx: Context, username: str, to: str | None, starts_at: datetime | None,
                     ends_at: datetime | None, clear: bool) -> None:
    """USER's out-of-office delegate: set it (--to), clear it (--clear), or show it."""
    from app.workflow.approvals.delegation import (
        clear_delegation,
        delegation_of,
        set_delegation,
    )

    if clear and (to or starts_at or ends_at):
        raise click.UsageError(_("--clear takes no --to, --from or --until."))
    if not to and (starts_at or ends_at):
        raise click.UsageError(_("--from and --until need --to."))
    who = _user(ctx, username)
    uid = int(who.id or 0)
    if clear:
        with ctx.engine.begin() as conn:
            cleared = clear_delegation(conn, uid)
        click.echo(_("%(who)s's approval tasks are no longer delegated.", who=username)
                   if cleared else _("%(who)s's approval tasks were not delegated.",
                                     who=username))
        return
    if to:
        delegate = _user(ctx, to)
        try:
            with ctx.engine.begin() as conn:
                found = set_delegation(conn, uid, int(delegate.id or 0), starts_at=starts_at,
                                       ends_at=ends_at)
        except RecordError as exc:
            _refused(exc)
    else:
        with ctx.engine.connect() as conn:
            current = delegation_of(conn, uid)
        if current is None:
            click.echo(_("%(who)s's approval tasks are not delegated.", who=username))
            return
        found = current
    span = (_("from %(at)s", at=_at(found.starts_at)) if found.starts_at else _("from now")) \
        + " " + (_("until %(at)s", at=_at(found.ends_at)) if found.ends_at
                 else _("until cleared"))
    click.echo(_("%(who)s's new approval tasks go to %(delegate)s %(span)s%(state)s.",
                 who=username, delegate=found.delegate, span=span,
                 state="" if found.active else _(" (not now)")))
