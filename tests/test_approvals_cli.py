"""`crm workflow ...`: list the live config's processes, stage machines and escalations;
simulate, submit, approve, reject, recall and reassign as a user (the notification mails go
out through the deployment's queue); the inbox; statistics; the timer (`tick --at`); and
out-of-office delegations. Refusals print "Refused: ..." and exit 2, unknown users exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from app import clock
from app.cli_errors import EXIT_REFUSED
from app.context import Context
from tests import mailkit
from tests.approvalkit import START, Flow, approval_deployment
from tests.mailkit import MailBox

mail_server = mailkit.mail_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, mail_server: MailBox,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    clock.set_now(START)
    made = approval_deployment(tmp_path, database_url, extra_config=mail_server.config)
    try:
        yield made
    finally:
        clock.set_now(None)
        made.dispose()


def crm(ctx: Context, *args: str) -> tuple[int, str]:
    from app.cli import main

    result = CliRunner().invoke(main, ["--config", str(ctx.settings.config_file), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def mails_to(box: MailBox, address: str) -> list[str]:
    return [str(m["Subject"]) for m in box.messages if m["To"] == address]


def test_list_shows_the_live_config(ctx: Context) -> None:
    code, out = crm(ctx, "workflow", "list")
    assert code == 0, out
    assert "quote_discount (quote): Discount approval" in out
    assert "1. manager: Manager approval (approvers [manager: submitter]; fallback " \
           "[role: sales_director]; mode any; reminds after 8h; escalates after 2d to " \
           "[role: sales_director])" in out
    assert "2. director: Director approval (when coalesce(discount, 0) > 40;" in out
    assert "a rejection goes back a step" in out
    assert "quote_status (quote.status):" in out and "opportunity_pipeline" in out
    assert "case_sla (case): deadline sla_due_at; warns 2h before" in out


def test_simulate_prints_who_would_approve(ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    code, out = crm(ctx, "workflow", "simulate", "quote", str(quote), "--as", "rep")
    assert code == 0, out
    assert out.splitlines()[:3] == [
        "Big deal as submitted by Rep:",
        "- Discount approval (quote_discount): would be submitted",
        "  1. Manager approval: Manager (any)"]
    assert "  2. Director approval: Director, Director2 (any)" in out
    code, out = crm(ctx, "workflow", "simulate", "quote", str(quote), "--as", "loner",
                    "--process", "quote_discount", "--json")
    first = json.loads(out)["processes"][0]["steps"][0]
    assert code == 0 and first["approvers"] == ["Director", "Director2"]
    assert flow.record("quote", quote)["status"] == "draft"  # nothing changed
    code, out = crm(ctx, "workflow", "simulate", "quote", str(quote), "--as", "rep",
                    "--process", "case_sla")
    assert code == EXIT_REFUSED and "Refused: quote has no approval process case_sla" in out
    code, out = crm(ctx, "workflow", "simulate", "quote", "999", "--as", "rep")
    assert code == EXIT_REFUSED and "Refused: Quote #999 does not exist" in out
    code, out = crm(ctx, "workflow", "simulate", "nothing", "1", "--as", "rep")
    assert code == EXIT_REFUSED and "Refused: There is no entity 'nothing'" in out


def test_submit_approve_through_both_steps_with_mails(ctx: Context, mail_server: MailBox
                                                      ) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    code, out = crm(ctx, "workflow", "submit", "quote", str(quote), "--as", "rep",
                    "--comment", "Strategic")
    assert code == 0, out
    assert out.strip() == (f"Approval #1 (Discount approval) of Quote Big deal (#{quote}) "
                           "waits for Manager (step Manager approval).")
    assert flow.record("quote", quote)["status"] == "pending_approval"
    assert len(mails_to(mail_server, "manager@example.com")) == 1  # through the queue
    task = flow.task_for(1, "manager")
    code, out = crm(ctx, "workflow", "approve", str(task), "--as", "manager", "--comment", "OK")
    assert code == 0, out
    assert out.splitlines() == [
        f"Task #{task} approved.",
        f"Approval #1 (Discount approval) of Quote Big deal (#{quote}) waits for Director, "
        "Director2 (step Director approval)."]
    last = flow.task_for(1, "director2")
    code, out = crm(ctx, "workflow", "approve", str(last), "--as", "director2")
    assert code == 0 and "is approved." in out
    assert flow.record("quote", quote)["status"] == "approved"
    assert any(s.startswith("Approved:") for s in mails_to(mail_server, "rep@example.com"))
    code, out = crm(ctx, "workflow", "approve", str(last), "--as", "director2")
    assert code == EXIT_REFUSED and "Refused: This approval task was already decided." in out


def test_refusals_and_unknown_users(ctx: Context) -> None:
    flow = Flow(ctx)
    small = flow.quote(discount=10)
    code, out = crm(ctx, "workflow", "submit", "quote", str(small), "--as", "rep")
    assert code == EXIT_REFUSED and out.startswith("Refused: Only draft quotes")
    quote = flow.quote(discount=30)
    assert crm(ctx, "workflow", "submit", "quote", str(quote), "--as", "rep")[0] == 0
    code, out = crm(ctx, "workflow", "submit", "quote", str(quote), "--as", "rep")
    assert code == EXIT_REFUSED and "already waits for an approval" in out
    task = flow.task_for(1, "manager")
    # a rep cannot decide the manager's task; another rep does not see it at all
    code, out = crm(ctx, "workflow", "approve", str(task), "--as", "rep")
    assert code == EXIT_REFUSED and "not yours to decide" in out
    code, out = crm(ctx, "workflow", "reject", str(task), "--as", "rep2")
    assert code == EXIT_REFUSED and f"Approval task #{task} does not exist" in out
    code, out = crm(ctx, "workflow", "approve", str(task), "--as", "ghost")
    assert code == 1 and "There is no active user 'ghost'." in out
    code, out = crm(ctx, "workflow", "approve", "0", "--as", "manager")
    assert code == 2 and "Invalid value" in out  # a usage error, never the database
    assert flow.tasks(1)[0].status == "open"


def test_recall_and_reassign(ctx: Context, mail_server: MailBox) -> None:
    flow = Flow(ctx)
    crm(ctx, "workflow", "submit", "quote", str(flow.quote(discount=30)), "--as", "rep")
    task = flow.task_for(1, "manager")
    code, out = crm(ctx, "workflow", "reassign", str(task), "--to", "director", "--as",
                    "manager", "--comment", "Yours")
    new = flow.task_for(1, "director")
    assert code == 0 and out.splitlines()[0] == f"Task #{task} reassigned to director: " \
                                                f"task #{new}."
    assert "waits for Director" in out and mails_to(mail_server, "director@example.com")
    code, out = crm(ctx, "workflow", "reassign", str(new), "--to", "rep", "--as", "director")
    assert code == EXIT_REFUSED and "to: The submitter cannot approve" in out
    code, out = crm(ctx, "workflow", "recall", "1", "--as", "manager")
    assert code == EXIT_REFUSED and "Only the submitter" in out
    code, out = crm(ctx, "workflow", "recall", "1", "--as", "rep", "--comment", "Oops")
    assert code == 0 and out.strip().endswith("is recalled.")
    assert flow.approval(1).status == "recalled"


def test_the_inbox_of_a_user(ctx: Context) -> None:
    flow = Flow(ctx)
    for owner, name in (("rep", "First"), ("rep2", "Second")):
        quote = flow.quote(discount=30, owner=owner, name=name)
        flow.as_user(owner).submit("quote", quote, flow.who(owner))
    code, out = crm(ctx, "workflow", "inbox", "--as", "manager")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "Pending for manager: 2"
    assert lines[1] == ("  task #1  Quote First (#1)  Discount approval / Manager approval  "
                        "from Rep  due 2026-11-04 09:00 UTC")
    clock.set_now(START + timedelta(days=3))
    assert crm(ctx, "workflow", "inbox", "--as", "manager")[1].splitlines()[1].endswith(
        "OVERDUE")
    code, out = crm(ctx, "workflow", "inbox", "--as", "rep", "--box", "submitted", "--json")
    [item] = json.loads(out)
    assert (item["title"], item["status"], item["task_id"]) == ("First", "pending", None)
    flow.as_user("manager").decide(flow.task_for(2, "manager"), flow.who("manager"),
                                   approve=False, comment="No")
    code, out = crm(ctx, "workflow", "inbox", "--as", "manager", "--box", "history")
    assert out.splitlines() == ["Decided by manager: 1",
                                "  task #2  Quote Second (#2)  Discount approval / Manager "
                                'approval  rejected 2026-11-05 09:00 UTC  "No"']
    code, out = crm(ctx, "workflow", "inbox", "--as", "rep", "--box", "mine")
    assert code == 2 and "Invalid value for '--box'" in out


def test_stats_table_and_json(ctx: Context) -> None:
    flow = Flow(ctx)
    for n in range(2):
        quote = flow.quote(discount=30, name=f"Q{n}")
        flow.as_user("rep").submit("quote", quote, flow.who("rep"))
    clock.set_now(START + timedelta(hours=3))
    flow.as_user("manager").decide(flow.task_for(1, "manager"), flow.who("manager"),
                                   approve=True)
    code, out = crm(ctx, "workflow", "stats")
    lines = out.splitlines()
    assert code == 0 and lines[0] == ("Discount approval (quote_discount): 2 submitted, "
                                      "1 approved, 0 rejected, 0 recalled, 1 pending; "
                                      "approval rate 100%")
    assert lines[1].split() == ["step", "decided", "approved", "rejected", "open", "overdue",
                                "average", "90th", "pct"]
    assert lines[2].split() == ["Manager", "approval", "1", "1", "0", "1", "0", "3", "h", "3",
                                "h"]
    assert lines[-1] == "Overdue tasks now (all processes): 0"
    code, out = crm(ctx, "workflow", "stats", "--json", "--process", "quote_discount")
    data = json.loads(out)
    assert data["data"][0]["steps"][0]["avg_seconds"] == 3 * 3600
    code, out = crm(ctx, "workflow", "stats", "--since", "2026-12-01")
    assert code == 0 and out.startswith("No approvals.")
    code, out = crm(ctx, "workflow", "stats", "--process", "nope")
    assert code == 1 and "There is no approval process nope." in out
    code, out = crm(ctx, "workflow", "stats", "--since", "soon")
    assert code == 2


def test_tick_reminds_and_escalates_as_if_later(ctx: Context, mail_server: MailBox) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=30)
    flow.as_user("rep").submit("quote", quote, flow.who("rep"))
    task = flow.task_for(1, "manager")
    code, out = crm(ctx, "workflow", "tick")
    assert code == 0 and out.splitlines() == ["Workflow timer at 2026-11-02 09:00 UTC:",
                                              "  reminded tasks: none",
                                              "  escalated tasks: none",
                                              "  escalation rules fired: none"]
    code, out = crm(ctx, "workflow", "tick", "--at", "2026-11-02T17:30")
    assert code == 0 and f"  reminded tasks: #{task}" in out
    assert any("eminder" in s for s in mails_to(mail_server, "manager@example.com"))
    code, out = crm(ctx, "workflow", "tick", "--at", "2026-11-04T10:00+00:00", "--json")
    report = json.loads(out)
    assert report["at"] == "2026-11-04T10:00:00+00:00" and report["escalated"] == [task]
    assert flow.assignees(1) == ["director", "director2"]
    assert clock.now() == START  # the test's clock is as it was
    code, out = crm(ctx, "workflow", "tick", "--at", "tomorrow")
    assert code == 2 and "is not a date and time" in out


def test_delegate_set_show_and_clear(ctx: Context) -> None:
    flow = Flow(ctx)
    code, out = crm(ctx, "workflow", "delegate", "manager")
    assert code == 0 and out.strip() == "manager's approval tasks are not delegated."
    code, out = crm(ctx, "workflow", "delegate", "manager", "--to", "director", "--until",
                    "2026-11-10T18:00+08:00")
    assert code == 0 and out.strip() == ("manager's new approval tasks go to Director from "
                                         "now until 2026-11-10 10:00 UTC.")
    assert "go to Director" in crm(ctx, "workflow", "delegate", "manager")[1]
    quote = flow.quote(discount=30)
    flow.as_user("rep").submit("quote", quote, flow.who("rep"))
    assert flow.assignees(1) == ["director"]
    code, out = crm(ctx, "workflow", "delegate", "manager", "--to", "director2", "--from",
                    "2026-11-05T09:00")
    assert out.strip().endswith("from 2026-11-05 09:00 UTC until cleared (not now).")
    code, out = crm(ctx, "workflow", "delegate", "director2", "--to", "manager")
    assert code == EXIT_REFUSED and "delegates their approvals to you" in out
    code, out = crm(ctx, "workflow", "delegate", "manager", "--to", "manager")
    assert code == EXIT_REFUSED and "Refused: delegate: Choose someone else" in out
    code, out = crm(ctx, "workflow", "delegate", "manager", "--to", "ghost")
    assert code == 1 and "There is no active user 'ghost'." in out
    code, out = crm(ctx, "workflow", "delegate", "manager", "--clear", "--to", "rep")
    assert code == 2 and "--clear takes no --to" in out
    code, out = crm(ctx, "workflow", "delegate", "manager", "--until", "2026-12-01T00:00")
    assert code == 2 and "need --to" in out
    code, out = crm(ctx, "workflow", "delegate", "manager", "--clear")
    assert code == 0 and "no longer delegated" in out
    assert "were not delegated" in crm(ctx, "workflow", "delegate", "manager", "--clear")[1]
