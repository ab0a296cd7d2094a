"""The shipped quote discount approval end to end (workflows/quotes.yaml), with a real SMTP
server receiving the notifications: over 20% goes to the rep's manager, over 40% to the manager
and then a sales director; the quote's status follows; everyone involved is told."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.records import RecordError, ValidationFailed
from tests import approvalkit, mailkit
from tests.approvalkit import Flow, approval_deployment
from tests.mailkit import MailBox

mail_server = mailkit.mail_server
frozen_clock = approvalkit.frozen_clock


@pytest.fixture
def flow(tmp_path: Path, database_url: str, mail_server: MailBox, frozen_clock: object
         ) -> Iterator[Flow]:
    ctx: Context = approval_deployment(tmp_path, database_url, extra_config=mail_server.config)
    try:
        yield Flow(ctx)
    finally:
        ctx.dispose()


def _mails_to(box: MailBox, address: str) -> list[str]:
    return [f"{m['Subject']}\n{box.text(m)}" for m in box.messages if m["To"] == address]


def test_30_percent_goes_to_the_managers_and_is_approved(flow: Flow, mail_server: MailBox
                                                         ) -> None:
    quote = flow.quote(discount=30)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"), comment="Strategic")
    assert flow.record("quote", quote)["status"] == "pending_approval"
    assert flow.assignees(approval) == ["manager"]
    mails = _mails_to(mail_server, "manager@example.com")
    assert len(mails) == 1 and "Approval needed" in mails[0] and "Big deal" in mails[0]
    assert f"http://crm.test/quote/{quote}" in mails[0]

    flow.approvals.decide(flow.task_for(approval, "manager"), flow.who("manager"),
                          approve=True, comment="Fine by me")
    q = flow.record("quote", quote)
    assert q["status"] == "approved" and q["approved_at"] is not None
    assert flow.approval(approval).status == "approved"
    assert flow.events(approval) == ["submitted", "step_started", "approved", "step_approved",
                                     "step_skipped", "final_approved"]
    told = _mails_to(mail_server, "rep@example.com")
    assert len(told) == 1 and told[0].startswith("Approved:") and "Fine by me" in told[0]
    assert not _mails_to(mail_server, "director@example.com")


def test_45_percent_needs_the_manager_then_a_director(flow: Flow, mail_server: MailBox) -> None:
    quote = flow.quote(discount=45)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
    flow.approvals.decide(flow.task_for(approval, "manager"), flow.who("manager"), approve=True)
    assert flow.record("quote", quote)["status"] == "pending_approval"
    assert flow.assignees(approval) == ["director", "director2"]
    assert len(_mails_to(mail_server, "director@example.com")) == 1
    # any director decides: the other's task is cancelled
    flow.approvals.decide(flow.task_for(approval, "director2"), flow.who("director2"),
                          approve=True)
    assert flow.record("quote", quote)["status"] == "approved"
    assert [t.status for t in flow.tasks(approval, None)] == ["approved", "cancelled",
                                                               "approved"]


def test_a_director_rejection_goes_back_to_the_manager(flow: Flow) -> None:
    quote = flow.quote(discount=50)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
    flow.approvals.decide(flow.task_for(approval, "manager"), flow.who("manager"), approve=True)
    flow.approvals.decide(flow.task_for(approval, "director"), flow.who("director"),
                          approve=False, comment="Too deep; talk to the customer again")
    assert flow.assignees(approval) == ["manager"]
    assert "sent_back" in flow.events(approval)
    assert flow.record("quote", quote)["status"] == "pending_approval"
    flow.approvals.decide(flow.task_for(approval, "manager"), flow.who("manager"),
                          approve=False, comment="No")
    assert flow.record("quote", quote)["status"] == "rejected"
    assert flow.approval(approval).status == "rejected"


def test_recall_puts_the_quote_back_to_draft_and_tells_the_approver(
        flow: Flow, mail_server: MailBox) -> None:
    quote = flow.quote(discount=30)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
    flow.approvals.recall(approval, flow.who("rep"), comment="Wrong price")
    assert flow.record("quote", quote)["status"] == "draft"
    assert flow.approval(approval).status == "recalled"
    assert flow.tasks(approval) == []
    assert any(s.startswith("Recalled:") for s in _mails_to(mail_server, "manager@example.com"))
    with pytest.raises(RecordError, match="already decided"):
        flow.approvals.decide(flow.tasks(approval, None)[0].id, flow.who("manager"),
                              approve=True)


def test_what_cannot_be_submitted(flow: Flow) -> None:
    small = flow.quote(discount=10)
    with pytest.raises(ValidationFailed, match="over 20%"):
        flow.approvals.submit("quote", small, flow.who("rep"))
    quote = flow.quote(discount=30)
    with pytest.raises(RecordError):  # another rep's quote: they may not edit it
        flow.approvals.submit("quote", quote, flow.who("rep2"))
    flow.approvals.submit("quote", quote, flow.who("rep"))
    with pytest.raises(RecordError, match="already waits"):
        flow.approvals.submit("quote", quote, flow.who("rep"))
    assert flow.record("quote", small)["status"] == "draft"


def test_a_rep_cannot_approve_a_big_discount_by_hand(flow: Flow) -> None:
    quote = flow.quote(discount=30)
    with pytest.raises(ValidationFailed, match="discount approval"):
        flow.rs.update("quote", quote, {"status": "approved"}, flow.who("rep"))
    small = flow.quote(discount=15)
    assert flow.rs.update("quote", small, {"status": "approved"},
                          flow.who("rep"))["status"] == "approved"


def test_without_a_manager_the_directors_approve(flow: Flow) -> None:
    quote = flow.quote(discount=30, owner="loner")
    approval = flow.approvals.submit("quote", quote, flow.who("loner"))
    assert flow.assignees(approval) == ["director", "director2"]


def test_a_directors_own_quote_needs_the_other_director(flow: Flow) -> None:
    quote = flow.quote(discount=45, owner="director")
    approval = flow.approvals.submit("quote", quote, flow.who("director"))
    # manager step: no manager -> the fallback (directors) without the submitter
    assert flow.assignees(approval) == ["director2"]
    flow.approvals.decide(flow.task_for(approval, "director2"), flow.who("director2"),
                          approve=True)
    # director step: director2 again (the submitter never approves their own)
    assert flow.assignees(approval) == ["director2"]
