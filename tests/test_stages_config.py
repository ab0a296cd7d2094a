"""Stage machines in workflows/*.yaml: every mistake is a located, coded config error; the
shipped pipeline loads; machines are part of the versioned config and merge across layers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.meta.errors import ConfigErrors
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.stages import run_name, stage_automations
from app.meta.types import Meta
from tests.factories import ROLES
from tests.webkit import ROOT

SCHEMAS = ROOT / "schemas"

#: a valid machine; each case below replaces one line (line numbers are the file's)
BASE = """\
stages:
  pipe:
    entity: opportunity
    field: stage
    initial: [prospecting]
    transitions:
      - {from: prospecting, to: [qualification, lost]}
      - {from: qualification, to: [needs_analysis, proposal, lost]}
      - {from: needs_analysis, to: proposal}
      - {from: proposal, to: negotiation}
      - {from: negotiation, to: won, roles: [sales_manager], when: "amount > 0"}
    require:
      won: [amount]
    on_enter:
      won:
        - set: {probability: 100}
        - create_activity: {subject: "Kick-off for {name}", kind: task, due_in_days: 3}
"""


def _load(tmp_path: Path, *files: str) -> Meta:
    layers = []
    for i, text in enumerate(files):
        wf = tmp_path / f"wf{i}"
        wf.mkdir(parents=True)
        (wf / "sales.yaml").write_text(text, encoding="utf-8")
        layers.append(wf)
    return load_meta([SCHEMAS], ROLES, workflow_dirs=layers)


def _errors(tmp_path: Path, text: str) -> list[tuple[str, str, int, str]]:
    with pytest.raises(ConfigErrors) as info:
        _load(tmp_path, text)
    return [(e.code, Path(e.source.file).name, e.source.line, e.message)
            for e in info.value.errors]


def _one(tmp_path: Path, text: str) -> tuple[str, str, int, str]:
    found = _errors(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def _with(line: int, new: str) -> str:
    lines = BASE.splitlines()
    lines[line - 1] = new
    return "\n".join(lines) + "\n"


def test_the_base_machine_and_the_shipped_pipeline_load(tmp_path: Path) -> None:
    assert set(_load(tmp_path, BASE).stages) == {"pipe"}
    shipped = load_meta([SCHEMAS], ROLES, workflow_dirs=[ROOT / "workflows"])
    pipeline = shipped.stages["opportunity_pipeline"]
    assert (pipeline.entity, pipeline.field) == ("opportunity", "stage")
    assert pipeline.require["lost"] == ("loss_reason",)
    assert [s.action for s in pipeline.on_enter["won"]] == ["set", "create_activity"]


@pytest.mark.parametrize(("line", "text", "code", "needle"), [
    (3, "    entity: oportunity", "CRM-E070", "did you mean 'opportunity'"),
    (4, "    field: stag", "CRM-E071", "did you mean 'stage'"),
    (4, "    field: amount", "CRM-E071", "'amount' is a currency field, not a picklist"),
    (5, "    initial: [prospecting, qualificaton]", "CRM-E072",
     "'qualificaton' is not a value of opportunity.stage (did you mean 'qualification'?)"),
    (9, "      - {from: needs_analysis, to: proposl}", "CRM-E072", "did you mean 'proposal'"),
    (11, "      - {from: negotiation, to: won, roles: [sales_rap]}", "CRM-E073",
     "'sales_rap' is not a role (did you mean 'sales_rep'?)"),
    (11, "      - {from: negotiation, to: won, when: \"amout > 0\"}", "CRM-E042", "amout"),
    (11, "      - {from: negotiation, to: won, when: \"amount >\"}", "CRM-E040", "amount >"),
    (13, "      won: [amont]", "CRM-E074", "require names no field 'amont' of opportunity"),
    (13, "      wonn: [amount]", "CRM-E072", "did you mean 'won'"),
    (15, "      wonn:", "CRM-E072", "did you mean 'won'"),
    (16, "        - set: {probabilty: 100}", "CRM-E074", "did you mean 'probability'"),
    (16, "        - set: {stage: lost}", "CRM-E074", "the machine's own field"),
    (16, "        - set: {expected_revenue: 5}", "CRM-E074", "a formula field computes"),
    (16, "        - set: {probability: 250}", "CRM-E075", "does not fit the field"),
    (16, "        - set: {type: fax}", "CRM-E075", "fax"),
    (16, "        - send_fax: {to: boss}", "CRM-E065", "unknown action 'send_fax'"),
    (16, "        - call_webhook: {body: hi}", "CRM-E066", "action 'call_webhook'"),
    (17, "        - create_activity: {kind: task}", "CRM-E066", "'subject' is a required"),
    (17, "        - create_activity: {subject: \"Kick-off {name\"}", "CRM-E068",
     "subject"),
    (17, "        - create_activity: {subject: Hi, kind: fax}", "CRM-E078", "kind"),
    (17, "        - create_activity: {subject: Hi, entity: account}", "CRM-E078",
     "account has no lookup to opportunity"),
    (17, "        - create_activity: {subject: Hi, entity: activty}", "CRM-E078",
     "did you mean 'activity'"),
    (6, "    transitons:", "CRM-E011", "did you mean 'transitions'"),
    (11, "      - {from: negotiation, to: won, roles: sales_manager}", "CRM-E010",
     "is not of type 'array'"),
])
def test_each_mistake_is_a_located_coded_error(tmp_path: Path, line: int, text: str,
                                                code: str, needle: str) -> None:
    found = _errors(tmp_path, _with(line, text))
    assert (code, "sales.yaml", line) in [(c, f, n) for c, f, n, _m in found], found
    message = next(m for c, _f, n, m in found if (c, n) == (code, line))
    assert needle in message


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    code, _file, line, message = _one(tmp_path, "stages:\n  pipe:\n    entity: opportunity\n"
                                      "    transitions: [{from: won, to: lost}]\n")
    assert (code, line) == ("CRM-E012", 2) and "needs `field`" in message


def test_a_stage_no_record_can_reach_is_an_error(tmp_path: Path) -> None:
    text = BASE.replace("      - {from: proposal, to: negotiation}\n", "")
    code, _file, line, message = _one(tmp_path, text)
    assert (code, line) == ("CRM-E077", 2)
    assert "no record can reach negotiation, won" in message


def test_two_machines_on_one_field_are_an_error(tmp_path: Path) -> None:
    text = BASE + ("  again:\n    entity: opportunity\n    field: stage\n"
                   "    transitions: [{from: '*', to: lost}]\n")
    code, _file, line, message = _one(tmp_path, text)
    assert (code, line) == ("CRM-E076", 18)
    assert "already has the stage machine 'pipe'" in message


def test_machines_are_versioned_config(tmp_path: Path) -> None:
    meta = _load(tmp_path, BASE)
    again = meta_from_dict(meta_to_dict(meta))
    assert meta_to_dict(again) == meta_to_dict(meta)
    assert again.stages["pipe"].transitions == meta.stages["pipe"].transitions
    # without machines (or any workflow) the digest is what it was before stage machines
    plain = load_meta([SCHEMAS], ROLES)
    assert "stages" not in meta_to_dict(plain)
    assert meta.digest != plain.digest
    assert dataclasses.replace(meta, stages={}).stages == {}


def test_a_later_layer_changes_a_machine_and_can_remove_it(tmp_path: Path) -> None:
    overlay = "stages:\n  pipe:\n    initial: [prospecting, qualification]\n"
    meta = _load(tmp_path / "a", BASE, overlay)
    assert meta.stages["pipe"].initial == ("prospecting", "qualification")
    assert meta.stages["pipe"].require == {"won": ("amount",)}  # the rest stays
    gone = _load(tmp_path / "b", BASE, "stages:\n  pipe: {remove: true}\n")
    assert gone.stages == {}


def test_the_acme_overlay_puts_its_new_stage_in_the_pipeline() -> None:
    from app.settings import load_settings

    settings = load_settings(ROOT / "examples" / "acme" / "config.yaml", environ={})
    meta = load_meta(settings.schema_dirs, settings.roles,
                     workflow_dirs=settings.workflow_dirs)
    pipeline = meta.stages["opportunity_pipeline"]
    assert any("contract_review" in t.to for t in pipeline.transitions)
    assert pipeline.initial == ("prospecting", "qualification")  # from the base
    assert pipeline.require["contract_review"] == ("amount", "close_date", "primary_contact")


def test_queued_actions_become_automations_no_event_triggers(tmp_path: Path) -> None:
    text = BASE + "        - call_webhook: {url_env: WON_URL, body: \"{name} won\"}\n"
    meta = _load(tmp_path, text)
    autos = stage_automations(meta)
    assert list(autos) == [run_name("pipe", "won")] == ["stage:pipe:won"]
    auto = autos["stage:pipe:won"]
    assert auto.on == () and [s.action for s in auto.actions] == ["call_webhook"]
    assert len(run_name("p" * 60, "won")) <= 63
