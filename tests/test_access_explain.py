"""`crm access explain` / the back office's Access explain page / `crm access matrix`: for every
role of the default pack and every entity the explanation answers and agrees with what
`ActorAccess` enforces; it names the role, file and path that grant or hide, and for one record
the path that reaches it (scope, team, subordinates, a share, a sharing rule) or why not."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from app.access.explain import ExplainError, Explanation, explain, matrix
from app.cli import main
from app.cli_privacy import live_records
from app.context import Context
from app.meta.access import ACTIONS, SCOPED_ACTIONS
from app.meta.types import Meta
from app.model.access import shares, user_teams
from app.model.system import users
from app.records import Records
from app.records.change import Actor
from tests.factories import ROLES, make_user, service, write_schema
from tests.webkit import sign_in, user_id


@pytest.fixture
def world(crm: Context) -> dict[str, Any]:
    """One user per role (u_<role>), rep and rep2 (sales_rep) in team east, and records."""
    rec = live_records(crm)
    people = {f"u_{r}": make_user(crm.engine, f"u_{r}", (r,)) for r in ROLES}
    ids = {u: user_id(crm, u) for u in ("admin", "rep", "rep2")}
    with crm.engine.begin() as conn:
        conn.execute(sa.insert(user_teams), [{"user_id": ids["rep"], "team": "east"},
                                             {"user_id": ids["rep2"], "team": "east"}])
    vip = rec.create("account", {"name": "VIP Ltd", "vip": True})["id"]
    plain = rec.create("account", {"name": "Plain Ltd"})["id"]
    made = {
        "opp_rep": rec.create("opportunity", {"name": "Rep deal", "account": plain,
                                              "owner": ids["rep"]})["id"],
        "opp_rep2": rec.create("opportunity", {"name": "Rep2 deal", "account": plain,
                                               "owner": ids["rep2"]})["id"],
        "case_vip": rec.create("case", {"subject": "VIP down", "account": vip,
                                        "owner": ids["admin"]})["id"],
        "case_plain": rec.create("case", {"subject": "Plain down", "account": plain,
                                          "owner": ids["admin"]})["id"],
        "lead_rep2": rec.create("lead", {"company": "Lead Co", "last_name": "Li",
                                         "owner": ids["rep2"]})["id"],
    }
    return {"rec": rec, "people": people, "ids": ids, "made": made, "vip": vip}


_SOURCES: dict[int, Meta] = {}


def _explain(crm: Context, rec: Records, user: str, entity: str, field: str | None = None,
             record_id: int | None = None) -> Explanation:
    """Explain with file positions (the YAML files loaded once per deployment)."""
    if id(crm) not in _SOURCES:
        _SOURCES.clear()
        _SOURCES[id(crm)] = crm.yaml_meta()
    return explain(rec, user, entity, field, record_id, sources=_SOURCES[id(crm)],
                   base=Path(crm.settings.config_file).parent)


def _texts(verdict: Any) -> str:
    return "\n".join(f"{r.text} {r.origin or ''}" for r in verdict.reasons)


def test_every_role_and_entity_agrees_with_enforcement(crm: Context,
                                                       world: dict[str, Any]) -> None:
    rec: Records = world["rec"]
    grid = {(r.role, r.entity): r.values for r in matrix(rec.meta)}
    assert set(grid) == {(r, e) for r in ROLES for e in rec.meta.entities}
    for role in ROLES:
        actor: Actor = world["people"][f"u_{role}"]
        acc = rec.access(actor)
        for entity in rec.meta.entities:
            ex = _explain(crm, rec, actor.username, entity)
            assert [v.subject for v in ex.actions] == list(ACTIONS)
            for v in ex.actions:
                assert v.allowed == acc.allows(entity, v.subject), (role, entity, v)
                if v.subject in SCOPED_ACTIONS:
                    expected = "all" if role == "admin" else acc.entity(entity).scope(v.subject)
                    assert v.verdict == expected, (role, entity, v)
                else:
                    assert v.verdict == ("yes" if v.allowed else "no"), (role, entity, v)
                assert v.verdict == grid[role, entity][v.subject], (role, entity, v)
                assert v.reasons, (role, entity, v)
        # one record of each kind: the record verdicts agree with the enforcing query
        for key, record_id in world["made"].items():
            entity = {"opp": "opportunity"}.get(key.split("_")[0], key.split("_")[0])
            ex = _explain(crm, rec, actor.username, entity, record_id=record_id)
            as_them = Records(rec.engine, rec.models, actor=actor)
            for v in ex.record:
                assert v.allowed == as_them.permits(entity, record_id, v.subject), \
                    (role, key, v)
                assert v.reasons and "disagrees" not in _texts(v), (role, key, v)


def test_rep_on_margin_is_hidden_naming_the_file(crm: Context, world: dict[str, Any]) -> None:
    ex = _explain(crm, world["rec"], "rep", "opportunity", "margin")
    fv = ex.field_verdict
    assert fv is not None and fv.verdict == "hidden" and not fv.allowed
    origin = fv.reasons[0].origin
    assert fv.reasons[0].role == "sales_rep" and origin is not None
    assert origin.file == "schemas/opportunity.yaml" and origin.line > 0
    assert origin.path == "opportunity permissions.sales_rep.hidden"
    read = next(v for v in ex.actions if v.subject == "read")
    assert read.verdict == "own" and read.reasons[0].origin is not None
    assert read.reasons[0].origin.file == "schemas/_access.yaml"
    # a sales manager sees it; an admin sees everything
    mgr = _explain(crm, world["rec"], "u_sales_manager", "opportunity", "margin")
    assert mgr.field_verdict is not None and mgr.field_verdict.verdict == "visible"
    assert "sales_manager" in _texts(mgr.field_verdict)


def test_rep_on_another_reps_opportunity_says_no_and_why(crm: Context,
                                                         world: dict[str, Any]) -> None:
    ex = _explain(crm, world["rec"], "rep", "opportunity", record_id=world["made"]["opp_rep2"])
    assert ex.record_owner == "rep2"
    read = next(v for v in ex.record if v.subject == "read")
    assert read.verdict == "no" and read.via is None
    text = _texts(read)
    assert "The owner is rep2" in text and "read scope own" in text
    assert "not shared by hand" in text
    own = _explain(crm, world["rec"], "rep", "opportunity", record_id=world["made"]["opp_rep"])
    assert [(v.verdict, v.via) for v in own.record] == [("yes", "own")] * 3


def test_sales_manager_reaches_a_reps_opportunity_via_subordinates(
        crm: Context, world: dict[str, Any]) -> None:
    ex = _explain(crm, world["rec"], "u_sales_manager", "opportunity",
                  record_id=world["made"]["opp_rep"])
    for v in ex.record:
        assert (v.verdict, v.via) == ("yes", "subordinates"), v
    text = _texts(ex.record[0])
    assert "sales_rep → sales_manager" in text and "rep" in text
    assert "schemas/_access.yaml" in text


def test_service_manager_reads_a_vip_case_via_the_sharing_rule(
        crm: Context, world: dict[str, Any]) -> None:
    ex = _explain(crm, world["rec"], "u_service_manager", "case",
                  record_id=world["made"]["case_vip"])
    read, edit, _delete = ex.record
    assert (read.verdict, read.via) == ("yes", "rule")
    assert "vip_cases" in read.reasons[0].text and "vip == true" in read.reasons[0].text
    assert read.reasons[0].origin is not None
    assert read.reasons[0].origin.file == "schemas/_access.yaml"
    assert edit.verdict == "no" and "read access only" in _texts(edit)
    plain = _explain(crm, world["rec"], "u_service_manager", "case",
                     record_id=world["made"]["case_plain"])
    assert plain.record[0].verdict == "no"
    assert "vip_cases does not match" in _texts(plain.record[0])


def test_team_scope_names_the_shared_team(crm: Context, world: dict[str, Any]) -> None:
    ex = _explain(crm, world["rec"], "rep", "lead", record_id=world["made"]["lead_rep2"])
    read = ex.record[0]
    assert (read.verdict, read.via) == ("yes", "team")
    assert "rep2" in read.reasons[0].text and "east" in read.reasons[0].text
    assert ex.teams == ("east",)


def test_a_record_shared_by_hand(crm: Context, world: dict[str, Any]) -> None:
    ids, opp = world["ids"], world["made"]["opp_rep2"]
    with crm.engine.begin() as conn:
        conn.execute(sa.insert(shares).values(
            entity="opportunity", record_id=opp, user_id=ids["rep"], team=None, access="read",
            created_by_id=ids["admin"], created_at=datetime.now(UTC)))
    ex = _explain(crm, world["rec"], "rep", "opportunity", record_id=opp)
    read, edit, delete = ex.record
    assert (read.verdict, read.via) == ("yes", "share")
    assert "Shared by hand with them for read by admin" in read.reasons[0].text
    assert edit.verdict == "no" and "not enough to edit" in _texts(edit)
    assert delete.verdict == "no" and "never let anyone delete" in _texts(delete)
    # a share with their team, for edit
    with crm.engine.begin() as conn:
        conn.execute(sa.insert(shares).values(
            entity="opportunity", record_id=opp, user_id=None, team="east", access="edit",
            created_by_id=ids["admin"], created_at=datetime.now(UTC)))
    edit = _explain(crm, world["rec"], "rep", "opportunity", record_id=opp).record[1]
    assert (edit.verdict, edit.via) == ("yes", "share") and "team east" in _texts(edit)


def test_admin_unknown_roles_and_unknown_names(crm: Context, world: dict[str, Any]) -> None:
    rec = world["rec"]
    ex = _explain(crm, rec, "admin", "case", "subject", world["made"]["case_vip"])
    assert all(v.allowed for v in [*ex.actions, *ex.record])
    assert ex.field_verdict is not None and ex.field_verdict.verdict == "visible"
    with crm.engine.begin() as conn:
        conn.execute(sa.update(users).where(users.c.username == "rep2")
                     .values(roles=["ghost"]))
    ghost = _explain(crm, rec, "rep2", "opportunity")
    assert any("ghost is not a role" in n for n in ghost.notes)
    assert not any(v.allowed for v in ghost.actions)
    for args, named in ((("nobody", "case"), "nobody"), (("rep", "kase"), "kase"),
                        (("rep", "case", "subjekt"), "subjekt"),
                        (("rep", "case", None, 999999), "999999")):
        with pytest.raises(ExplainError, match=named):
            explain(rec, *args)  # type: ignore[arg-type]
    with pytest.raises(ExplainError, match="'case'"):
        explain(rec, "rep", "kase")
    with pytest.raises(ExplainError, match="ghost"):
        matrix(rec.meta, ["ghost"])


def test_a_formula_on_a_hidden_field_is_hidden_too(engine: sa.Engine, tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    write_schema(folder, "deal", {"entity": "deal", "title": "name", "fields": {
        "name": {"type": "string"},
        "amount": {"type": "currency"}, "margin": {"type": "percent"},
        "margin_amount": {"type": "formula", "expr": "amount * margin / 100",
                          "result": "currency"}},
        "permissions": {"sales_rep": {"hidden": ["margin"]}}})
    write_schema(folder, "_access", {"access": {"roles": {"sales_rep": {
        "default": {"read": "own", "edit": "own"}}}}})
    rec: Records = service(engine, folder)
    make_user(engine, "seller", ("sales_rep",))
    fv = explain(rec, "seller", "deal", "margin_amount").field_verdict
    assert fv is not None and fv.verdict == "hidden"
    assert "formula that reads margin" in fv.reasons[0].text
    assert "sales_rep hides it" in fv.reasons[1].text


def _cli(crm: Context, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("CRM_DATABASE_URL", crm.settings.database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    return CliRunner().invoke(main, ["--config", str(crm.settings.config_file), *args])


def test_cli_text_and_json(crm: Context, world: dict[str, Any],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    out = _cli(crm, monkeypatch, "access", "explain", "rep", "opportunity.margin",
               str(world["made"]["opp_rep2"]))
    assert out.exit_code == 0, out.output
    assert "margin  hidden" in out.output
    assert "schemas/opportunity.yaml:" in out.output
    assert "Record opportunity #" in out.output and "owner: rep2" in out.output
    as_json = _cli(crm, monkeypatch, "access", "explain", "--json", "u_sales_manager",
                   "opportunity", str(world["made"]["opp_rep"]))
    data = json.loads(as_json.output)
    assert data["user"] == "u_sales_manager" and data["roles"] == ["sales_manager"]
    assert [a["subject"] for a in data["actions"]] == list(ACTIONS)
    assert data["record"][0]["via"] == "subordinates"
    bad = _cli(crm, monkeypatch, "access", "explain", "rep", "opportunity.nope")
    assert bad.exit_code != 0 and "no field 'nope'" in bad.output
    assert "Traceback" not in bad.output


def test_cli_matrix(crm: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _cli(crm, monkeypatch, "access", "matrix", "--role", "sales_rep")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["role", "entity", *ACTIONS]
    opp = next(line.split() for line in lines if " opportunity " in line)
    assert opp[:6] == ["sales_rep", "opportunity", "yes", "own", "own", "own"]
    rows = json.loads(_cli(crm, monkeypatch, "access", "matrix", "--json").output)
    assert {r["role"] for r in rows} == set(ROLES)
    bad = _cli(crm, monkeypatch, "access", "matrix", "--role", "ghost")
    assert bad.exit_code != 0 and "no role 'ghost'" in bad.output


def test_admin_page(web: Flask, world: dict[str, Any]) -> None:
    client = web.test_client()
    sign_in(client)
    page = client.get("/admin/system/access/")
    assert page.status_code == 200 and 'id="access-explain-form"' in page.text
    url = f"/admin/system/access/?user=rep&entity=opportunity&field=margin" \
          f"&record={world['made']['opp_rep2']}"
    shown = client.get(url)
    assert shown.status_code == 200
    assert 'data-field="margin" data-verdict="hidden"' in shown.text
    assert "schemas/opportunity.yaml:" in shown.text
    assert 'data-action="read" data-verdict="no"' in shown.text
    unknown = client.get("/admin/system/access/?user=nobody&entity=opportunity")
    assert unknown.status_code == 404 and "There is no user &#39;nobody&#39;" in unknown.text
    assert client.get("/admin/system/access/?user=rep&entity=case&record=x").status_code == 400
    rep = web.test_client()
    sign_in(rep, "rep")
    assert rep.get("/admin/system/access/?user=rep&entity=case").status_code == 403
