"""Where the designer writes: the deployment's own layer (an overlay gets only the changed
parts), never a read-only config, never over a file edited on disk meanwhile."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.context import Context
from app.designer.service import Designer, Refused
from tests import designerkit
from tests.designerkit import designer_deployment, field_change


def test_a_read_only_config_says_so_and_is_not_written(tmp_path: Path,
                                                       database_url: str) -> None:
    ctx = designer_deployment(tmp_path, database_url, extra_config="read_only_config: true\n")
    try:
        designer = Designer(ctx)
        designer.add("admin", field_change())
        preview = designer.preview("admin")
        assert preview.read_only is not None and "read-only" in preview.read_only
        assert preview.files is not None and preview.diffs  # the YAML to download is there
        with pytest.raises(Refused, match="read-only"):
            designer.apply("admin")
        assert "tier" not in (tmp_path / "schemas" / "account.yaml").read_text()
    finally:
        ctx.dispose()


def test_a_file_edited_on_disk_meanwhile_is_not_overwritten(
        designerkit_ctx: Context) -> None:
    designer = Designer(designerkit_ctx)
    designer.add("admin", field_change())
    account_yaml = designerkit_ctx.settings.schema_dirs[-1] / "account.yaml"
    hand = account_yaml.read_text(encoding="utf-8") + "# edited by hand\n"
    account_yaml.write_text(hand, encoding="utf-8")
    assert designer.preview("admin").drift == [str(account_yaml)]
    applied = designer.apply("admin")
    assert applied.written == []
    assert applied.skipped and "edited on disk" in applied.skipped[0][1]
    assert account_yaml.read_text(encoding="utf-8") == hand
    # the database has the change all the same: `crm config diff` shows the drift
    assert "tier" in designer.preview("admin").base_files.texts[
        next(k for k in designer.preview("admin").base_files.texts
             if k.name == "account.yaml")]


def test_an_overlay_gets_only_the_changed_parts(tmp_path: Path, database_url: str) -> None:
    ctx = designer_deployment(tmp_path, database_url, overlay=True)
    try:
        base_before = {p.name: p.read_text() for p in (tmp_path / "schemas").glob("*.yaml")}
        designer = Designer(ctx)
        designer.add("admin", field_change())
        designer.add("admin", {"op": "remove_field", "entity": "account", "field": "email"})
        designer.add("admin", {"op": "entity", "entity": "opportunity",
                               "values": {"label": {"en": "Deal", "zh": "交易"}}})
        applied = designer.apply("admin", confirm=True)
        client = tmp_path / "client" / "schemas"
        assert sorted(Path(p).name for p in applied.written) == ["account.yaml",
                                                                 "opportunity.yaml"]
        assert {p.name: p.read_text() for p in (tmp_path / "schemas").glob("*.yaml")} == \
            base_before
        text = (client / "account.yaml").read_text(encoding="utf-8")
        assert text.startswith("# yaml-language-server: $schema=")
        assert "entity: account\n" in text and "email: {remove: true}" in text
        assert "name:" not in text  # only what differs from the base pack
        meta = ctx.yaml_meta()
        assert "tier" in meta.entity("account").fields
        assert "email" not in meta.entity("account").fields
        assert meta.entity("opportunity").label["en"] == "Deal"
    finally:
        ctx.dispose()


def test_raw_yaml_edits_are_limited_to_the_deployments_own_files(tmp_path: Path,
                                                                 database_url: str) -> None:
    from app.designer.changes import ChangeError

    ctx = designer_deployment(tmp_path, database_url, overlay=True)
    try:
        designer = Designer(ctx)
        with pytest.raises(ChangeError, match="only this deployment's own files"):
            designer.add("admin", {"op": "file", "file": "schemas/0/account.yaml",
                                   "text": "entity: account\n"})
        with pytest.raises(ChangeError, match="not a config file key"):
            designer.add("admin", {"op": "file", "file": "schemas/1/../../etc.yaml",
                                   "text": "x: 1\n"})
        designer.add("admin", {"op": "file", "file": "schemas/1/note.yaml",
                               "text": "entity: note\nlabel: {zh: 备忘}\n"})
        preview = designer.preview("admin")
        assert preview.errors == [] and preview.meta is not None
        assert preview.meta.entity("note").label["zh"] == "备忘"
    finally:
        ctx.dispose()


designerkit_ctx = designerkit.designer_ctx


def test_a_second_server_with_older_files_brings_them_up_to_date(tmp_path: Path,
                                                                 database_url: str) -> None:
    """Two app servers on one database, each with its own copy of the config folder: a
    change applied on A is the base of the next change on B, and B's older files are not
    mistaken for hand edits."""
    import shutil

    from app.settings import load_settings

    server_a = designer_deployment(tmp_path / "a", database_url)
    shutil.copytree(tmp_path / "a", tmp_path / "b", ignore=shutil.ignore_patterns("*.db*"))
    server_b = Context(load_settings(tmp_path / "b" / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    try:
        Designer(server_a).add("alice", field_change(name="tier"))
        Designer(server_a).add("alice", {"op": "entity", "entity": "contact",
                                         "values": {"icon": "person"}})
        Designer(server_a).apply("alice")
        on_b = Designer(server_b)
        on_b.add("bob", field_change(name="region", definition={"type": "string"}))
        preview = on_b.preview("bob")
        assert preview.drift == [] and preview.conflict is None
        applied = on_b.apply("bob")
        text = (tmp_path / "b" / "schemas" / "account.yaml").read_text(encoding="utf-8")
        assert "tier:" in text and "region:" in text
        # B's other older file came up to date too: B's folder holds the live version
        assert sorted(Path(p).name for p in applied.written) == ["account.yaml", "contact.yaml"]
        assert "icon: person" in (tmp_path / "b" / "schemas" / "contact.yaml").read_text()
    finally:
        server_a.dispose()
        server_b.dispose()
