"""The designer from the command line: `crm config change` + `crm config draft
show|preview|apply|remove|rebase|discard` script a change without the browser; `crm config
history|compare|revert|purge`. Exit codes: 0 done, 1 refused or not applied, 2 the config
changed since the draft began."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.cli_designer import EXIT_CONFLICT, EXIT_NOT_APPLIED
from app.cli_privacy import live_records
from app.context import Context
from app.designer.service import Designer
from app.records import Actor
from tests.designerkit import designer_deployment, field_change
from tests.webkit import deployment

SYSTEM = Actor(None, "system", ("admin",))
REMOVE_EMAIL = json.dumps({"op": "remove_field", "entity": "account", "field": "email"})


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Context]:
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    monkeypatch.setenv("USER", "admin")
    made = designer_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def crm(ctx: Context, *args: str, input: str | None = None) -> tuple[int, str]:
    from app.cli import main

    result = CliRunner().invoke(main, ["--config", str(ctx.settings.config_file), *args],
                                input=input)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def account_yaml(ctx: Context) -> Path:
    return ctx.settings.schema_dirs[-1] / "account.yaml"


def test_a_scripted_change_is_previewed_and_applied(ctx: Context) -> None:
    code, out = crm(ctx, "config", "change", json.dumps(field_change()))
    assert code == 0, out
    assert out.splitlines() == ["Added: set field account.tier.",
                                "Draft of admin: 1 change(s) on version 1",
                                "  1. set field account.tier"]
    code, out = crm(ctx, "config", "draft")
    assert code == 0 and "  1. set field account.tier" in out
    code, out = crm(ctx, "config", "draft", "preview")
    assert code == 0, out
    assert "  changed schemas/account.yaml" in out and "+  tier:" in out
    assert "+ [safe] add picklist field account.tier" in out
    assert "Ready to apply: `crm config draft apply`." in out
    code, out = crm(ctx, "config", "draft", "apply", "-m", "loyalty tier")
    assert code == 0, out
    assert "Wrote schemas/account.yaml" in out and "Config version 2 is live." in out
    assert "tier:" in account_yaml(ctx).read_text(encoding="utf-8")
    code, out = crm(ctx, "config", "history")
    assert code == 0
    newest = out.splitlines()[0].split()
    assert newest[:2] == ["*", "2"] and "admin" in newest and out.splitlines()[0].endswith(
        "loyalty tier")
    code, out = crm(ctx, "config", "draft", "show")
    assert "admin has no draft changes (live version 2)." in out


def test_a_change_that_cannot_be_made_exits_1(ctx: Context) -> None:
    for text, message in (("{bad", "is not JSON"), ("[1]", 'JSON object with its "op"'),
                          (json.dumps(field_change(entity="nope")),
                           "there is no entity 'nope'")):
        code, out = crm(ctx, "config", "change", text)
        assert code == EXIT_NOT_APPLIED, out
        assert message in out
    assert Designer(ctx).draft("admin").changes == []


def test_the_change_is_read_from_stdin_and_the_author_named(ctx: Context) -> None:
    code, out = crm(ctx, "config", "change", "-", "--author", "carol", "--json",
                    input=json.dumps(field_change()))
    assert code == 0, out
    draft = json.loads(out)
    assert draft["author"] == "carol" and draft["changes"][0]["number"] == 1
    assert Designer(ctx).draft("admin").changes == []
    code, out = crm(ctx, "config", "draft", "--author", "carol", "show", "--json")
    assert json.loads(out)["changes"][0]["summary"] == "set field account.tier"
    code, out = crm(ctx, "config", "draft", "show", "--author", "carol")
    assert "Draft of carol: 1 change(s)" in out


def test_hiding_data_needs_yes_or_a_confirmation(ctx: Context) -> None:
    crm(ctx, "config", "change", REMOVE_EMAIL)
    code, out = crm(ctx, "config", "draft", "apply", input="n\n")
    assert code == EXIT_NOT_APPLIED, out
    assert "Hides (data kept until a purge; needs confirming): hide account.email" in out
    assert "Not applied (the draft is kept)." in out
    code, out = crm(ctx, "config", "draft", "apply", "--json")
    assert code == EXIT_NOT_APPLIED
    assert json.loads(out.split("\nNot applied")[0])["needs_confirm"] is True
    assert len(Designer(ctx).draft("admin").changes) == 1
    code, out = crm(ctx, "config", "draft", "apply", input="y\n")
    assert code == 0, out
    assert "email" not in ctx.yaml_meta().entity("account").fields


def test_a_newer_version_is_a_conflict_exit_2_until_rebased(ctx: Context) -> None:
    crm(ctx, "config", "change", json.dumps(field_change(name="tier")))
    other = Designer(ctx)
    other.add("bob", field_change(name="region", definition={"type": "string"}))
    other.apply("bob", message="sales region")
    code, out = crm(ctx, "config", "draft", "apply")
    assert code == EXIT_CONFLICT, out
    assert "published since: version 2 by bob: sales region" in out
    assert "+ account.region (added)" in out
    code, out = crm(ctx, "config", "draft", "preview")
    assert code == EXIT_CONFLICT
    code, out = crm(ctx, "config", "draft", "rebase")
    assert code == 0 and "on version 2" in out
    code, out = crm(ctx, "config", "draft", "apply")
    assert code == 0, out
    assert {"tier", "region"} <= set(ctx.yaml_meta().entity("account").fields)


def test_a_draft_with_config_errors_is_refused_exit_1(ctx: Context) -> None:
    crm(ctx, "config", "change", json.dumps(field_change(name="size",
                                                         definition={"type": "nonsense"})))
    code, out = crm(ctx, "config", "draft", "preview", "--no-diff")
    assert code == EXIT_NOT_APPLIED
    assert "schemas/account.yaml:" in out and "CRM-E017" in out
    assert "Cannot apply: the changed config has" in out
    code, out = crm(ctx, "config", "draft", "apply", "--yes")
    assert code == EXIT_NOT_APPLIED and "Refused:" in out
    code, out = crm(ctx, "config", "draft", "preview", "--json")
    assert code == EXIT_NOT_APPLIED and json.loads(out)["can_apply"] is False


def test_changes_come_out_by_number_and_the_draft_is_discarded(ctx: Context) -> None:
    crm(ctx, "config", "change", json.dumps(field_change(name="tier")))
    crm(ctx, "config", "change", json.dumps(field_change(name="region",
                                                         definition={"type": "string"})))
    code, out = crm(ctx, "config", "draft", "remove", "1")
    assert code == 0 and out.splitlines()[1:] == ["  1. set field account.region"]
    code, out = crm(ctx, "config", "draft", "remove", "9")
    assert code == EXIT_NOT_APPLIED and "no change number 9" in out
    code, out = crm(ctx, "config", "draft", "discard")
    assert code == 0 and "Discarded the draft of admin." in out
    assert Designer(ctx).draft("admin").changes == []


def test_history_and_compare(ctx: Context) -> None:
    crm(ctx, "config", "change", json.dumps(field_change()))
    crm(ctx, "config", "draft", "apply", "-m", "tier")
    code, out = crm(ctx, "config", "history", "--json")
    listed = json.loads(out)
    assert [(v["id"], v["author"], v["live"]) for v in listed] == [
        (2, "admin", True), (1, "setup", False)]
    code, out = crm(ctx, "config", "history", "--limit", "1")
    assert len(out.splitlines()) == 1
    code, out = crm(ctx, "config", "compare", "1", "2")
    assert code == 0 and out.splitlines() == ["From version 1 to 2:",
                                              "  + account.tier (added)"]
    code, out = crm(ctx, "config", "compare", "1", "2", "--files")
    assert "+++ v2/account.yaml" in out and "+  tier:" in out
    code, out = crm(ctx, "config", "compare", "2", "1", "--json")
    assert json.loads(out)["differences"][0]["kind"] == "removed"
    code, out = crm(ctx, "config", "compare", "1", "99")
    assert code == EXIT_NOT_APPLIED and "There is no config version 99" in out


def test_revert_restores_a_version_with_data_intact(ctx: Context) -> None:
    original = account_yaml(ctx).read_text(encoding="utf-8")
    crm(ctx, "config", "change", json.dumps(field_change()))
    crm(ctx, "config", "draft", "apply")
    acme = live_records(ctx).create("account", {"name": "Acme", "tier": "gold"}, SYSTEM)
    crm(ctx, "config", "change", json.dumps(field_change(name="region",
                                                         definition={"type": "string"})))
    # declined: nothing applied, the pending draft kept as it was
    code, out = crm(ctx, "config", "revert", "1", input="n\n")
    assert code == EXIT_NOT_APPLIED, out
    assert "This replaces the draft of admin (1 change(s))." in out
    assert "hide account.tier" in out and "Not applied." in out
    assert [c["field"] for c in Designer(ctx).draft("admin").changes] == ["region"]
    code, out = crm(ctx, "config", "revert", "1", "--yes", "-m", "back to v1")
    assert code == 0, out
    assert "Config version 3 is live." in out
    assert account_yaml(ctx).read_text(encoding="utf-8") == original
    assert "tier" not in live_records(ctx).get("account", acme["id"])
    with ctx.engine.connect() as conn:
        assert conn.execute(sa.text("select tier from ent_account")).scalar_one() == "gold"
    code, out = crm(ctx, "config", "history", "--limit", "1")
    assert out.rstrip().endswith("back to v1")
    # forward again, confirmed at the prompt: the values come back with the field
    code, out = crm(ctx, "config", "revert", "2", input="y\n")
    assert code == 0, out
    assert live_records(ctx).get("account", acme["id"])["tier"] == "gold"
    code, out = crm(ctx, "config", "revert", "4")
    assert code == EXIT_NOT_APPLIED and "live version already" in out
    code, out = crm(ctx, "config", "revert", "99", "--yes")
    assert code == EXIT_NOT_APPLIED and "There is no config version 99" in out


def test_a_version_without_files_cannot_be_reverted(tmp_path: Path, database_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    plain = deployment(tmp_path, database_url)  # published without recording its files
    try:
        code, out = crm(plain, "config", "revert", "1", "--yes", "--author", "admin")
        assert code == EXIT_NOT_APPLIED and "no recorded YAML files" in out
    finally:
        plain.dispose()


def test_purge_lists_hidden_columns_and_drops_them_with_yes(ctx: Context) -> None:
    code, out = crm(ctx, "config", "purge")
    assert code == 0 and "Nothing is hidden" in out
    crm(ctx, "config", "change", REMOVE_EMAIL)
    crm(ctx, "config", "draft", "apply", "--yes")

    def columns() -> set[str]:
        with ctx.engine.connect() as conn:
            return {c["name"] for c in sa.inspect(conn).get_columns("ent_account")}

    code, out = crm(ctx, "config", "purge")
    assert code == 0 and "account.email" in out and "--yes" in out
    assert "email" in columns()
    code, out = crm(ctx, "config", "purge", "--yes")
    assert code == 0 and "Purged: config version 3 is live." in out
    assert "email" not in columns()
