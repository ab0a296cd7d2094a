"""Two admins, one config: the second apply gets a conflict naming the other change, never a
silent overwrite; the version history, differences between versions, and revert."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.cli_privacy import live_records
from app.context import Context
from app.designer import history
from app.designer.service import Conflict, Designer
from app.records import Actor
from tests import designerkit
from tests.designerkit import field_change

designer_ctx = designerkit.designer_ctx
SYSTEM = Actor(None, "system", ("admin",))


def test_the_second_apply_from_the_same_version_gets_a_conflict(designer_ctx: Context) -> None:
    designer = Designer(designer_ctx)
    designer.add("alice", field_change(name="tier"))
    designer.add("bob", field_change(name="region", definition={"type": "string"}))
    first = designer.apply("alice", message="loyalty tier")
    with pytest.raises(Conflict) as caught:
        designer.apply("bob")
    conflict = caught.value
    assert conflict.live == first.version and conflict.base == first.version - 1
    assert [(v.author, v.message) for v in conflict.newer] == [("alice", "loyalty tier")]
    assert [(d.where, d.kind) for d in conflict.differences] == [("account.tier", "added")]
    # nothing of bob's was published or written
    assert "region" not in (designer_ctx.settings.schema_dirs[-1] / "account.yaml").read_text()
    preview = designer.preview("bob")
    assert preview.conflict is not None and "changed since" in preview.blockers[-1]
    # bob saw it; his change is made again on alice's version: both survive
    designer.rebase("bob")
    designer.apply("bob")
    text = (designer_ctx.settings.schema_dirs[-1] / "account.yaml").read_text()
    assert "tier:" in text and "region:" in text
    account = designer_ctx.yaml_meta().entity("account")
    assert {"tier", "region"} <= set(account.fields)


def test_history_lists_versions_and_compares_any_two(designer_ctx: Context) -> None:
    designer = Designer(designer_ctx)
    designer.add("alice", field_change(name="tier"))
    v2 = designer.apply("alice", message="tier").version
    designer.add("bob", field_change(name="tier", definition={
        **designerkit.TIER, "label": {"en": "Customer tier", "zh": "客户等级"}}))
    designer.add("bob", {"op": "remove_field", "entity": "account", "field": "email"})
    v3 = designer.apply("bob", confirm=True).version
    assert v2 is not None and v3 is not None
    with designer_ctx.engine.connect() as conn:
        listed = history.versions(conn)
        old, new = history.snapshot(conn, v2 - 1), history.snapshot(conn, v3)
        changed = history.compare(history.snapshot(conn, v2), new)
        files_a, files_b = designer.files_of(conn, v2), designer.files_of(conn, v3)
    assert [v.id for v in listed] == [v3, v2, v2 - 1]
    assert [v.author for v in listed] == ["bob", "alice", "setup"]
    # the removed field also left the account's layout
    assert {(d.where, d.kind) for d in history.compare(old, new)} == {
        ("account.tier", "added"), ("account.email", "removed"), ("account", "changed")}
    label = next(d for d in changed if d.where == "account.tier")
    assert label.kind == "changed"
    assert ("label", {"en": "Loyalty tier", "zh": "会员等级"},
            {"en": "Customer tier", "zh": "客户等级"}) in label.details
    diffs = history.file_diffs(files_a, files_b)
    assert [d.key.name for d in diffs] == ["account.yaml"]
    assert "-    label: {en: Loyalty tier, zh: 会员等级}" in diffs[0].unified


def test_revert_restores_the_previous_version_with_data_intact(designer_ctx: Context) -> None:
    designer = Designer(designer_ctx)
    account_yaml = designer_ctx.settings.schema_dirs[-1] / "account.yaml"
    original = account_yaml.read_text(encoding="utf-8")
    with designer_ctx.engine.connect() as conn:
        v1 = history.versions(conn)[0].id
    designer.add("admin", field_change(name="tier"))
    designer.apply("admin")
    rs = live_records(designer_ctx)
    acme = rs.create("account", {"name": "Acme", "tier": "gold"}, SYSTEM)
    # revert to v1: a plan like any other; the field is hidden, its values kept
    designer.revert_to("admin", v1)
    preview = designer.preview("admin")
    assert [s.op for s in preview.hides] == ["hide_column"]
    designer.apply("admin", confirm=True, message="back to v1")
    assert account_yaml.read_text(encoding="utf-8") == original
    assert "tier" not in live_records(designer_ctx).get("account", acme["id"])
    with designer_ctx.engine.connect() as conn:
        assert conn.execute(sa.text("select tier from ent_account")).scalar_one() == "gold"
        v_tier = history.versions(conn)[1].id
    # and forward again: the values come back with the field
    designer.revert_to("admin", v_tier)
    designer.apply("admin")
    assert live_records(designer_ctx).get("account", acme["id"])["tier"] == "gold"
    assert "tier:" in account_yaml.read_text(encoding="utf-8")


def test_a_version_without_files_cannot_be_restored(designer_ctx: Context) -> None:
    from app.designer.changes import ChangeError

    with pytest.raises(ChangeError, match="no recorded YAML files"):
        Designer(designer_ctx).revert_to("admin", 999)
