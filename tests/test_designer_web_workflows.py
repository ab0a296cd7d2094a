"""The designer's workflow pages: a stage machine's transitions as a from x to grid (and rules
with roles or a guard), approval processes with their steps added and reordered, escalations;
each save adds one `workflow` change whose candidate config loads; admins only."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from app.context import Context
from app.designer.service import Designer
from tests import designertabskit
from tests.designertabskit import admin_client, changed, designer_web, draft_changes, form_fields
from tests.webkit import sign_in

ctx = designertabskit.ctx
PIPELINE = "/designer/workflows/stages/opportunity_pipeline"
DISCOUNT = "/designer/workflows/approvals/quote_discount"


def _shipped(section: str, name: str, file: str) -> dict[str, Any]:
    from tests.webkit import ROOT

    data = yaml.safe_load((ROOT / "workflows" / file).read_text(encoding="utf-8"))
    return dict(data[section][name])


def _definition(ctx: Context) -> dict[str, Any]:
    (change,) = draft_changes(ctx)
    assert change["op"] == "workflow"
    return dict(change["definition"])


def _loaded(ctx: Context) -> Any:
    preview = Designer(ctx).preview("admin")
    assert not preview.errors, preview.errors
    assert not preview.blockers, preview.blockers
    assert preview.meta is not None
    return preview.meta


def _moves(fields: list[tuple[str, str]]) -> list[str]:
    return [v for k, v in fields if k == "move"]


def test_the_grid_shows_the_moves_and_rules_anyone_or_some_may_make(ctx: Context) -> None:
    html = admin_client(ctx).get(PIPELINE).text
    moves = _moves(form_fields(html, "stage-form"))
    assert "prospecting>qualification" in moves and "negotiation>lost" in moves
    # winning is a rule (roles), not a move anyone may make
    assert "negotiation>won" not in moves
    assert html.count('name="r') and 'data-rule="4"' in html  # 4 rules + the empty one
    assert 'id="initial-prospecting" checked' in html and 'id="initial-won" checked' not in html


@pytest.mark.parametrize(("name", "file"), [("opportunity_pipeline", "sales.yaml"),
                                            ("lead_qualification", "sales.yaml"),
                                            ("quote_status", "quotes.yaml")])
def test_saving_the_form_unchanged_keeps_the_machine_as_written(ctx: Context, name: str,
                                                                file: str) -> None:
    client = admin_client(ctx)
    url = f"/designer/workflows/stages/{name}"
    fields = changed(form_fields(client.get(url).text, "stage-form"))
    # what would be written: every transition as written, even one whose grouping the grid
    # would not make
    body = client.post(url + "/preview", data=fields).get_json()
    assert yaml.safe_load(body["yaml"]) == {"stages": {name: _shipped("stages", name, file)}}
    resp = client.post(url, data=fields)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(url)
    assert draft_changes(ctx) == []  # nothing changed: nothing added


def test_a_new_transition_in_the_grid_reaches_the_candidate_config(ctx: Context) -> None:
    client = admin_client(ctx)
    fields = form_fields(client.get(PIPELINE).text, "stage-form")
    resp = client.post(PIPELINE, data=changed(fields, move=[*_moves(fields), "won>lost"]))
    assert resp.status_code == 302
    transitions = _definition(ctx)["transitions"]
    original = _shipped("stages", "opportunity_pipeline", "sales.yaml")["transitions"]
    # every transition stays as written; the new move comes after the plain ones
    assert [t for t in transitions if t != {"from": "won", "to": "lost"}] == original
    assert transitions.index({"from": "won", "to": "lost"}) == 5
    machine = _loaded(ctx).stages["opportunity_pipeline"]
    assert any(t.from_ == ("won",) and t.to == ("lost",) and not t.roles
               for t in machine.transitions)


def test_unticking_a_move_regroups_only_its_transition(ctx: Context) -> None:
    client = admin_client(ctx)
    fields = form_fields(client.get(PIPELINE).text, "stage-form")
    moves = [m for m in _moves(fields) if m != "qualification>proposal"]
    client.post(PIPELINE, data=changed(fields, move=moves))
    transitions = _definition(ctx)["transitions"]
    assert {"from": "qualification", "to": ["needs_analysis", "proposal", "lost"]} \
        not in transitions
    assert {"from": "qualification", "to": ["needs_analysis", "lost"]} in transitions
    machine = _loaded(ctx).stages["opportunity_pipeline"]
    assert not any("qualification" in t.from_ and "proposal" in t.to for t in machine.transitions)


def test_rules_are_edited_added_and_removed(ctx: Context) -> None:
    client = admin_client(ctx)
    fields = form_fields(client.get(PIPELINE).text, "stage-form")
    # rule 2 (reopening a lost deal) goes; a new rule lets directors reopen won deals to lost
    client.post(PIPELINE, data=changed(fields, **{
        "r2-remove": "1", "r4-from": "won", "r4-to": "lost", "r4-roles": "sales_director",
        "r4-when": "amount > 0", "r4-message-en": "Only directors reopen won deals"}))
    transitions = _definition(ctx)["transitions"]
    assert {"from": "lost", "to": "qualification",
            "roles": ["sales_manager", "sales_director"]} not in transitions
    assert transitions[-1] == {"from": "won", "to": "lost", "roles": ["sales_director"],
                               "when": "amount > 0",
                               "message": {"en": "Only directors reopen won deals"}}
    _loaded(ctx)


def test_a_bad_guard_is_shown_beside_it_and_nothing_is_added(ctx: Context) -> None:
    client = admin_client(ctx)
    fields = form_fields(client.get(PIPELINE).text, "stage-form")
    resp = client.post(PIPELINE, data=changed(fields, **{
        "r0-when": "amount >", "require-won": "amount, colour"}))
    assert resp.status_code == 400
    assert 'data-error="r0-when"' in resp.text and 'data-error="require-won"' in resp.text
    assert "opportunity has no field colour." in resp.text
    assert draft_changes(ctx) == []


def test_a_new_stage_machine_on_a_free_picklist(ctx: Context) -> None:
    # (case.status has the shipped case_status machine since issue 9's surveys: a task's
    # status is free)
    client = admin_client(ctx)
    start = client.get("/designer/workflows/new/stages?name=task_flow&target=activity.status")
    assert start.status_code == 302
    url = start.headers["Location"]
    assert "/designer/workflows/stages/task_flow" in url
    fields = form_fields(client.get(url).text, "stage-form")
    moves = ["planned>in_progress", "in_progress>planned", "*>cancelled", "in_progress>done"]
    resp = client.post("/designer/workflows/stages/task_flow",
                       data=changed(fields, move=moves, initial="planned",
                                    **{"require-done": "description"}))
    assert resp.status_code == 302
    assert _definition(ctx) == {
        "entity": "activity", "field": "status", "initial": ["planned"],
        # grouped: each from-stage with where it goes, those going to the same places together
        "transitions": [{"from": "*", "to": "cancelled"},
                        {"from": "planned", "to": "in_progress"},
                        {"from": "in_progress", "to": ["planned", "done"]}],
        "require": {"done": ["description"]}}
    machine = _loaded(ctx).stages["task_flow"]
    assert machine.entity == "activity" and machine.initial == ("planned",)
    # a field that already has a machine cannot get a second one
    taken = client.get("/designer/workflows/new/stages?name=x&target=opportunity.stage")
    assert taken.status_code == 302 and taken.headers["Location"].endswith("/designer/workflows")


def test_approval_steps_are_added_and_reordered_then_saved(ctx: Context) -> None:
    client = admin_client(ctx)
    fields = form_fields(client.get(DISCOUNT).text, "approval-form")
    # add a step: the form comes back with three steps, nothing saved yet
    page = client.post(DISCOUNT, data=changed(fields, action="add-step"))
    assert page.status_code == 200 and page.text.count('data-step-name=') == 3
    assert draft_changes(ctx) == []
    fields = form_fields(page.text, "approval-form")
    data = changed(fields, **{"s2-name": "finance", "s2-label-en": "Finance review",
                              "s2-approvers-0-kind": "role",
                              "s2-approvers-0-value": "sales_manager", "s2-mode": "all"})
    # move it up, before the director
    page = client.post(DISCOUNT, data=changed(list(data.items(multi=True)), action="up-2"))
    names = [n for n in page.text.split('data-step-name="')[1:]]
    assert [n.split('"')[0] for n in names] == ["manager", "finance", "director"]
    resp = client.post(DISCOUNT, data=changed(form_fields(page.text, "approval-form"),
                                              action="save"))
    assert resp.status_code == 302
    steps = _definition(ctx)["steps"]
    shipped = _shipped("approvals", "quote_discount", "quotes.yaml")["steps"]
    assert steps == [shipped[0], {"name": "finance", "label": {"en": "Finance review"},
                                  "approvers": [{"role": "sales_manager"}], "mode": "all"},
                     shipped[1]]
    process = _loaded(ctx).approvals["quote_discount"]
    assert [s.name for s in process.steps] == ["manager", "finance", "director"]
    assert process.steps[1].mode == "all"


def test_the_approval_form_unchanged_keeps_the_process_as_written(ctx: Context) -> None:
    client = admin_client(ctx)
    fields = form_fields(client.get(DISCOUNT).text, "approval-form")
    body = client.post(DISCOUNT + "/preview", data=changed(fields)).get_json()
    assert yaml.safe_load(body["yaml"]) == {"approvals": {"quote_discount": _shipped(
        "approvals", "quote_discount", "quotes.yaml")}}
    resp = client.post(DISCOUNT, data=changed(fields, action="save"))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(DISCOUNT)
    assert draft_changes(ctx) == []


def test_approval_problems_are_shown_beside_their_inputs(ctx: Context) -> None:
    client = admin_client(ctx)
    fields = form_fields(client.get(DISCOUNT).text, "approval-form")
    resp = client.post(DISCOUNT, data=changed(fields, action="save", **{
        "when": "discount >>> 2", "s0-remind_after": "soon", "s1-approvers-0-kind": "role",
        "s1-approvers-0-value": "chef", "on_submit": "set: status"}))
    assert resp.status_code == 400
    for key in ("when", "s0-remind_after", "s1-approvers-0", "on_submit"):
        assert f'data-error="{key}"' in resp.text, key
    assert "Write a duration like 30m, 8h, 2d or 1w." in resp.text
    assert draft_changes(ctx) == []


def test_an_escalation_is_edited(ctx: Context) -> None:
    client = admin_client(ctx)
    url = "/designer/workflows/escalations/case_sla"
    fields = form_fields(client.get(url).text, "escalation-form")
    assert client.post(url, data=changed(fields, warn_before="4h")).status_code == 302
    definition = _definition(ctx)
    assert definition["warn_before"] == "4h"
    shipped = _shipped("escalations", "case_sla", "service.yaml")
    assert {k: v for k, v in definition.items() if k != "warn_before"} == \
        {k: v for k, v in shipped.items() if k != "warn_before"}
    assert _loaded(ctx).escalations["case_sla"].warn_before == "4h"


def test_removing_a_machine(ctx: Context) -> None:
    client = admin_client(ctx)
    from tests.webkit import csrf

    token = csrf(client.get("/designer/workflows").text)
    resp = client.post("/designer/workflows/stages/lead_qualification/remove",
                       data={"csrf_token": token})
    assert resp.status_code == 302
    assert draft_changes(ctx) == [{"op": "workflow", "section": "stages",
                                   "name": "lead_qualification", "definition": None}]
    assert "lead_qualification" not in _loaded(ctx).stages


def test_the_live_preview_answers_yaml(ctx: Context) -> None:
    client = admin_client(ctx)
    fields = form_fields(client.get(PIPELINE).text, "stage-form")
    body = client.post(PIPELINE + "/preview", data=changed(
        fields, move=[*_moves(fields), "won>lost"])).get_json()
    assert body["ok"] and body["yaml"].startswith("stages:\n  opportunity_pipeline:\n")
    assert "+      - {from: won, to: lost}" in body["diff"]
    body = client.post(PIPELINE + "/preview", data=changed(fields, **{"r0-when": "("})
                       ).get_json()
    assert body["ok"] is False and "r0-when" in body["errors"]


def test_unknown_workflows_are_not_found_and_reps_are_refused(ctx: Context) -> None:
    client = admin_client(ctx)
    for url in ("/designer/workflows/stages/nothing", "/designer/workflows/approvals/nothing",
                "/designer/workflows/stages/x?entity=case&field=priority_x",
                "/designer/workflows/escalations/x?entity=nothing",
                "/designer/workflows/new/nothing"):
        assert client.get(url).status_code == 404, url
    rep: FlaskClient = designer_web(ctx).test_client()
    sign_in(rep, "rep")
    for url in ("/designer/workflows", PIPELINE, DISCOUNT,
                "/designer/workflows/escalations/case_sla"):
        assert rep.get(url).status_code == 403, url
