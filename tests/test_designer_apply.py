"""The designer's draft -> preview -> apply: the YAML it writes (comments kept), the plan, the
new version, and what refuses an apply (errors, data loss, unconfirmed hiding)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.cli_privacy import live_records
from app.context import Context
from app.designer.changes import ChangeError
from app.designer.service import Designer, Refused
from app.records import Actor
from tests import designerkit
from tests.designerkit import field_change

designer_ctx = designerkit.designer_ctx
SYSTEM = Actor(None, "system", ("admin",))


def folder_of(ctx: Context) -> Path:
    return ctx.settings.schema_dirs[-1]


def test_a_new_field_is_planned_applied_written_and_usable(designer_ctx: Context) -> None:
    designer = Designer(designer_ctx)
    account_yaml = folder_of(designer_ctx) / "account.yaml"
    before = account_yaml.read_text(encoding="utf-8")
    designer.add("admin", field_change())
    preview = designer.preview("admin")
    assert preview.blockers == [] and preview.errors == []
    assert [d.path for d in preview.diffs] == [str(account_yaml)]
    assert "+  tier:" in preview.diffs[0].unified
    assert preview.plan is not None
    assert [s.op for s in preview.plan.steps] == ["add_column"]
    applied = designer.apply("admin", message="loyalty tier")
    assert applied.written == [str(account_yaml)]
    after = account_yaml.read_text(encoding="utf-8")
    # every line the admin wrote is still there, unchanged: the field's lines were added
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    assert [line for line in diff if line.startswith(("- ", "? "))] == []
    assert "  tier:\n    type: picklist\n" in after
    rs = live_records(designer_ctx)
    made = rs.create("account", {"name": "Acme", "tier": "gold"}, SYSTEM)
    assert rs.get("account", made["id"])["tier"] == "gold"
    assert designer.draft("admin").changes == []  # applied drafts are gone


def test_the_version_records_author_message_and_files(designer_ctx: Context) -> None:
    from app.designer import history

    designer = Designer(designer_ctx)
    designer.add("admin", field_change())
    applied = designer.apply("admin", message="loyalty tier")
    with designer_ctx.engine.connect() as conn:
        newest = history.versions(conn)[0]
        files = designer.files_of(conn, newest.id)
    assert (newest.id, newest.author, newest.message) == (applied.version, "admin",
                                                         "loyalty tier")
    assert newest.has_files and newest.steps[0]["op"] == "add_column"
    assert "tier:" in next(t for k, t in files.texts.items() if k.name == "account.yaml")


def test_a_change_that_cannot_be_made_is_not_saved(designer_ctx: Context) -> None:
    designer = Designer(designer_ctx)
    with pytest.raises(ChangeError, match="no entity 'nothing'"):
        designer.add("admin", field_change(entity="nothing"))
    with pytest.raises(ChangeError, match="not a valid name"):
        designer.add("admin", field_change(name="Bad Name"))
    with pytest.raises(ChangeError, match="unknown change"):
        designer.add("admin", {"op": "drop_database"})
    assert designer.draft("admin").changes == []


def test_config_errors_are_shown_with_file_and_line_and_refuse_the_apply(
        designer_ctx: Context) -> None:
    designer = Designer(designer_ctx)
    designer.add("admin", field_change(definition={"type": "lookup", "to": "nowhere"}))
    preview = designer.preview("admin")
    assert preview.errors and preview.plan is None
    error = preview.errors[0]
    assert error.source.file.endswith("account.yaml") and error.source.line
    assert "nowhere" in error.message
    with pytest.raises(Refused, match="error"):
        designer.apply("admin")
    assert "nowhere" not in (folder_of(designer_ctx) / "account.yaml").read_text()


def test_values_that_would_not_convert_refuse_the_apply(designer_ctx: Context) -> None:
    rs = live_records(designer_ctx)
    rs.create("account", {"name": "Acme", "description": "not a number"}, SYSTEM)
    designer = Designer(designer_ctx)
    designer.add("admin", field_change(name="description", definition={"type": "integer"}))
    preview = designer.preview("admin")
    assert preview.plan is not None and preview.plan.unsupported
    assert "lose data" in " ".join(preview.blockers)
    with pytest.raises(Refused, match="lose data"):
        designer.apply("admin", confirm=True)


def test_removing_a_field_hides_it_only_when_confirmed_and_keeps_its_data(
        designer_ctx: Context) -> None:
    rs = live_records(designer_ctx)
    acme = rs.create("account", {"name": "Acme", "website": "https://acme.example"}, SYSTEM)
    designer = Designer(designer_ctx)
    designer.add("admin", {"op": "remove_field", "entity": "account", "field": "website"})
    preview = designer.preview("admin")
    assert [s.op for s in preview.hides] == ["hide_column"]
    with pytest.raises(Refused, match="confirm"):
        designer.apply("admin")
    designer.apply("admin", confirm=True)
    assert "website" not in live_records(designer_ctx).get("account", acme["id"])
    with designer_ctx.engine.connect() as conn:
        kept = conn.execute(sa.text("select website from ent_account where id = :i"),
                            {"i": acme["id"]}).scalar_one()
    assert kept == "https://acme.example"


def test_layout_order_entity_and_permissions_changes(designer_ctx: Context) -> None:
    designer = Designer(designer_ctx)
    designer.add("admin", {"op": "entity", "entity": "account",
                           "values": {"label": {"en": "Customer", "zh": "客户"}}})
    designer.add("admin", {"op": "layout", "entity": "account", "layout": [
        {"section": {"en": "Main", "zh": "主要"}, "columns": 1, "fields": ["name", "phone"]}]})
    designer.add("admin", {"op": "permissions", "entity": "account", "role": "sales_rep",
                           "grant": {"hidden": ["annual_revenue"]}})
    preview = designer.preview("admin")
    assert preview.errors == [] and preview.meta is not None
    account = preview.meta.entity("account")
    assert account.label["en"] == "Customer"
    assert [list(s["fields"]) for s in account.layout] == [["name", "phone"]]
    assert list(account.permissions["sales_rep"]["hidden"]) == ["annual_revenue"]
    designer.apply("admin")
    text = (folder_of(designer_ctx) / "account.yaml").read_text(encoding="utf-8")
    assert "label: {en: Customer, zh: 客户}" in text
    assert "sales_rep:" in text and "annual_revenue" in text


def test_a_new_entity_gets_its_own_file_and_table(designer_ctx: Context) -> None:
    designer = Designer(designer_ctx)
    designer.add("admin", {"op": "add_entity", "entity": "project",
                           "label": {"en": "Project", "zh": "项目"}})
    designer.add("admin", field_change(entity="project", name="budget",
                                       definition={"type": "currency", "min": 0}))
    applied = designer.apply("admin")
    path = folder_of(designer_ctx) / "project.yaml"
    assert applied.written == [str(path)]
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=")
    assert "entity: project" in text and "budget:" in text
    made = live_records(designer_ctx).create("project", {"name": "Rollout", "budget": 5},
                                            SYSTEM)
    assert made["name"] == "Rollout"


def test_workflow_stage_changes_go_to_the_workflow_file(designer_ctx: Context) -> None:
    designer = Designer(designer_ctx)
    meta = designer_ctx.yaml_meta()
    assert "opportunity_pipeline" in meta.stages
    designer.add("admin", {"op": "workflow", "section": "approvals", "name": "big_deal",
                           "definition": {
                               "entity": "opportunity", "label": {"en": "Big deal"},
                               "when": "amount > 1000000",
                               "steps": [{"name": "director",
                                          "approvers": [{"role": "sales_director"}]}]}})
    preview = designer.preview("admin")
    assert preview.errors == [], preview.errors
    assert preview.meta is not None and "big_deal" in preview.meta.approvals
    # the first file (by name) of the top layer that holds approvals
    assert [Path(d.path).name for d in preview.diffs] == ["knowledge.yaml"]


def test_the_config_checks_run_on_the_candidate_and_failures_need_a_confirmation(
        designer_ctx: Context) -> None:
    from app.designer.service import check_runner

    designer = Designer(designer_ctx, checks=check_runner(
        designer_ctx.settings.config_test_dirs))
    designer.add("admin", {"op": "permissions", "entity": "opportunity", "role": "sales_rep",
                           "grant": None})  # reps would see the margin again
    preview = designer.preview("admin")
    assert preview.checks and not preview.blockers
    failed = preview.failed_checks
    assert failed and all(not c.passed for c in failed)
    assert any("margin" in c.message for c in failed)
    with pytest.raises(Refused, match="config check"):
        designer.apply("admin")
    assert designer.apply("admin", confirm=True).version is not None


def test_renaming_a_field_keeps_its_values(designer_ctx: Context) -> None:
    rs = live_records(designer_ctx)
    acme = rs.create("account", {"name": "Acme", "website": "https://acme.example"}, SYSTEM)
    designer = Designer(designer_ctx)
    designer.add("admin", {"op": "rename_field", "entity": "account", "field": "website",
                           "to": "homepage"})
    preview = designer.preview("admin")
    assert preview.errors == [] and preview.plan is not None
    assert [s.op for s in preview.plan.steps] == ["rename_column"]
    designer.apply("admin")
    assert live_records(designer_ctx).get("account", acme["id"])["homepage"] == \
        "https://acme.example"
    text = (folder_of(designer_ctx) / "account.yaml").read_text(encoding="utf-8")
    assert "homepage:" in text and "renamed_from: website" in text
    assert "website:" not in text


def test_a_base_field_cannot_be_renamed_from_an_overlay(tmp_path: Path,
                                                        database_url: str) -> None:
    ctx = designerkit.designer_deployment(tmp_path, database_url, overlay=True)
    try:
        with pytest.raises(ChangeError, match="base pack"):
            Designer(ctx).add("admin", {"op": "rename_field", "entity": "account",
                                        "field": "website", "to": "homepage"})
    finally:
        ctx.dispose()
