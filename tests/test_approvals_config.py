"""Approval processes and escalations in workflows/*.yaml: every mistake is a located, coded
config error (CRM-E100..E109, the expression and action codes); the shipped processes load;
they are part of the versioned config (snapshot round trip) and merge across layers."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta.approvals import seconds
from app.meta.approvals_snapshot import approval_from_dict, approval_to_dict
from app.meta.errors import ConfigErrors
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta
from tests.factories import ROLES
from tests.webkit import ROOT

SCHEMAS = ROOT / "schemas"

BASE = """\
approvals:
  disc:
    entity: quote
    when: "coalesce(discount, 0) > 20"
    submitters: [sales_rep]
    on_submit: [{set: {status: pending_approval}}]
    on_approve: [{set: {status: approved, approved_at: now}}]
    steps:
      - name: manager
        approvers: [{manager: submitter}]
        remind_after: 8h
        escalate_after: 2d
        escalate_to: [{role: sales_director}]
      - name: director
        when: "discount > 40"
        approvers: [{role: sales_director}, {field: owner_id}]
        mode: at_least
        at_least: 1
        on_reject: back
escalations:
  sla:
    entity: case
    deadline: sla_due_at
    when: "status != 'closed'"
    warn_before: 2h
    on_warn: [{notify: {to: [owner], subject: "Case {number} is due soon"}}]
    on_breach: [{set: {status: escalated}}]
"""


def _load(tmp_path: Path, *files: str) -> Meta:
    layers = []
    for i, text in enumerate(files):
        wf = tmp_path / f"wf{i}"
        wf.mkdir(parents=True)
        (wf / "approvals.yaml").write_text(text, encoding="utf-8")
        layers.append(wf)
    return load_meta([SCHEMAS], ROLES, workflow_dirs=layers)


def _one(tmp_path: Path, text: str) -> tuple[str, int, str]:
    with pytest.raises(ConfigErrors) as info:
        _load(tmp_path, text)
    errors = info.value.errors
    assert len(errors) == 1, [str(e) for e in errors]
    e = errors[0]
    assert Path(e.source.file).name == "approvals.yaml"
    return e.code, e.source.line, e.message


def test_the_base_example_loads(tmp_path: Path) -> None:
    meta = _load(tmp_path, BASE)
    disc = meta.approvals["disc"]
    assert [s.name for s in disc.steps] == ["manager", "director"]
    assert disc.steps[1].mode == "at_least" and disc.steps[1].on_reject == "back"
    assert meta.escalations["sla"].deadline == "sla_due_at"


@pytest.mark.parametrize(("old", "new", "code", "line", "words"), [
    ("    entity: quote", "    entity: quotes", "CRM-E100", 3, "no entity 'quotes'"),
    ('    when: "coalesce(discount, 0) > 20"', '    when: "discount >"', "CRM-E040", 4,
     "ends too early"),
    ("    submitters: [sales_rep]", "    submitters: [sales_repp]", "CRM-E102", 5,
     "'sales_repp' is not a role"),
    ("        approvers: [{manager: submitter}]", "        approvers: [{manager: boss}]",
     "CRM-E103", 10, "submitter` or `owner"),
    ("        remind_after: 8h", "        remind_after: 8 hours", "CRM-E105", 11,
     "not a duration"),
    ("        escalate_to: [{role: sales_director}]", "        escalate_to: [{role: ceo}]",
     "CRM-E102", 13, "'ceo' is not a role"),
    ("        approvers: [{role: sales_director}, {field: owner_id}]",
     "        approvers: [{role: sales_director}, {field: amount}]", "CRM-E103", 16,
     "no user field 'amount'"),
    ("        mode: at_least", "        mode: any", "CRM-E108", 18, "at_least"),
    ("      - name: director", "      - name: manager", "CRM-E107", 14, "two steps"),
    ("    on_submit: [{set: {status: pending_approval}}]",
     "    on_submit: [{set: {status: pending}}]", "CRM-E106", 6, "status"),
    ("    on_submit: [{set: {status: pending_approval}}]",
     "    on_submit: [{send_fax: {to: x}}]", "CRM-E065", 6, "unknown action 'send_fax'"),
    ("    deadline: sla_due_at", "    deadline: subject", "CRM-E104", 23,
     "date or datetime field"),
    ("    warn_before: 2h", "    after: 1h", "CRM-E104", 26, "warn_before"),
    ("    on_warn: [{notify: {to: [owner], subject: \"Case {number} is due soon\"}}]",
     "    on_warn: [{notify: {to: [{role: boss}], subject: x}}]", "CRM-E102", 26,
     "'boss' is not a role"),
])
def test_mistakes_are_located_and_coded(tmp_path: Path, old: str, new: str, code: str,
                                        line: int, words: str) -> None:
    assert old in BASE
    got = _one(tmp_path, BASE.replace(old, new))
    assert got[0] == code and got[1] == line and words in got[2], got


def test_escalate_after_needs_someone_to_escalate_to(tmp_path: Path) -> None:
    code, line, message = _one(tmp_path, BASE.replace(
        "        escalate_to: [{role: sales_director}]\n", ""))
    assert (code, line) == ("CRM-E109", 12) and "escalate_to" in message


def test_a_queue_must_be_a_team_of_the_access_config(tmp_path: Path) -> None:
    text = BASE.replace("approvers: [{manager: submitter}]", "approvers: [{queue: deal_desk}]")
    with pytest.raises(ConfigErrors) as info:
        _load(tmp_path, text)
    assert any(e.code == "CRM-E104" and "queue 'deal_desk' is not a team" in e.message
               for e in info.value.errors)


def test_durations() -> None:
    assert seconds("30m") == 1800 and seconds("8h") == 28800 and seconds("2d") == 172800
    assert seconds("1w") == 604800 and seconds(3) == 10800 and seconds(None) is None
    with pytest.raises(ValueError, match="not a duration"):
        seconds("soon")


def test_processes_survive_the_snapshot_and_the_pinned_copy(tmp_path: Path) -> None:
    meta = _load(tmp_path, BASE)
    again = meta_from_dict(meta_to_dict(meta))
    assert again.approvals == meta.approvals
    assert again.escalations == meta.escalations
    disc = meta.approvals["disc"]
    assert approval_from_dict("disc", approval_to_dict(disc)) == disc


def test_an_overlay_changes_a_process_by_key_and_can_remove_one(tmp_path: Path) -> None:
    overlay = "approvals:\n  disc:\n    submitters: [sales_manager]\n" \
              "escalations:\n  sla:\n    remove: true\n"
    meta = _load(tmp_path, BASE, overlay)
    assert meta.approvals["disc"].submitters == ("sales_manager",)
    assert len(meta.approvals["disc"].steps) == 2
    assert "sla" not in meta.escalations


def test_the_shipped_workflows_load() -> None:
    meta = load_meta([SCHEMAS], ROLES, workflow_dirs=[ROOT / "workflows"])
    quote = meta.approvals["quote_discount"]
    assert [s.name for s in quote.steps] == ["manager", "director"]
    assert quote.steps[1].when is not None and "40" in quote.steps[1].when
    assert "case_sla" in meta.escalations


def test_a_process_keeps_its_name_when_it_revokes_on_change() -> None:
    """`revoke_on_change` once overwrote the process's name with the last field it named."""
    meta = load_meta([ROOT / "schemas"], ROLES, workflow_dirs=[ROOT / "workflows"])
    process = meta.approvals["quote_discount"]
    assert process.revoke_on_change and process.name == "quote_discount"
