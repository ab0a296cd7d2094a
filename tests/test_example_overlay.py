"""The Acme example overlay (examples/acme, explained in docs/overlays.md) loads on top of the
default pack, makes each change it demonstrates, migrates a fresh database, and moves a base
deployment that already holds rows onto the overlay without losing any."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from app.cli import main
from app.meta.loader import load_meta
from app.meta.types import Meta
from app.migrate.publish import plan_change, publish
from app.settings import Settings, load_settings
from tests.factories import columns, insert, rows

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "examples" / "acme" / "config.yaml"


def load(config: Path) -> tuple[Settings, Meta]:
    settings = load_settings(config, environ={})
    return settings, load_meta(settings.schema_dirs, settings.roles,
                               workflow_dirs=settings.workflow_dirs,
                               report_dirs=settings.report_dirs)


def test_settings_stack_the_overlay_on_the_base() -> None:
    settings, _ = load(ACME)
    acme = ROOT / "examples" / "acme"
    assert settings.name == "Acme CRM"
    assert settings.schema_dirs == [ROOT / "schemas", acme / "schemas"]
    assert settings.migrations_dir == acme / "migrations"
    assert settings.instance_dir == acme / "instance"
    assert settings.database_url == f"sqlite:///{acme / 'instance' / 'crm.db'}"
    base, _ = load(ROOT / "config.yaml")
    assert settings.roles == base.roles  # not set in the overlay: inherited


def test_each_demonstrated_change_takes_effect() -> None:
    _, meta = load(ACME)
    opp = meta.entities["opportunity"]
    # a label: only zh changes, en stays from the base
    assert dict(opp.label) == {"en": "Opportunity", "zh": "销售机会"}
    stage = opp.fields["stage"]
    assert dict(stage.label) == {"en": "Stage", "zh": "阶段"}
    assert stage.help["en"].startswith("Where the deal is")  # untouched options stay
    assert stage.default == "prospecting" and stage.indexed
    # a picklist choice added: the list was repeated in full, with the new stage in it
    values = [c.value for c in stage.choices]
    assert values == ["prospecting", "qualification", "needs_analysis", "proposal",
                      "negotiation", "contract_review", "won", "lost"]
    review = stage.choices[values.index("contract_review")]
    assert review.extra["probability"] == 90 and review.label["zh"] == "合同审核"
    # a base field removed (hidden): gone from the config, remembered as removed
    assert "next_step" not in opp.fields and opp.removed_fields == ("next_step",)
    # a rule added after the base's rules
    assert [r.name for r in opp.rules] == [
        "won_needs_close_date", "amount_needed_from_proposal", "big_deal_needs_contact"]
    assert opp.rules[-1].field == "primary_contact"
    # a default changed; the other options of the field stay
    tax = meta.entities["product"].fields["tax_rate"]
    assert tax.default == Decimal("6") and tax.min == 0 and tax.max == 100
    # a new field on a base entity, after the base's fields
    account = meta.entities["account"]
    assert list(account.fields)[-1] == "region"
    assert account.fields["region"].type == "picklist"
    assert account.fields["region"].default == "east"
    assert "name" in account.fields and "rating" in account.fields
    # a new entity with lookups to base entities
    project = meta.entities["project"]
    assert project.fields["account"].type == "lookup"
    assert project.fields["account"].opt("to") == "account" and project.fields["account"].required
    assert project.fields["opportunity"].opt("to") == "opportunity"
    assert [r.name for r in project.rules] == ["end_after_start"]
    # the overlay's files are merged after the whole base pack
    assert all("examples/acme" not in f for f in meta.files[:-4])
    assert all("examples/acme/schemas/" in f for f in meta.files[-4:])


def test_overlay_migrates_a_fresh_database(engine: sa.Engine) -> None:
    _, meta = load(ACME)
    result = publish(engine, meta)
    assert result.version == 1 and not result.plan.unsupported
    tables = set(sa.inspect(engine).get_table_names())
    assert {"ent_account", "ent_opportunity", "ent_project"} <= tables
    assert "region" in columns(engine, "ent_account")
    assert "next_step" not in columns(engine, "ent_opportunity")
    assert {"account_id", "opportunity_id", "manager_id"} <= columns(engine, "ent_project")
    targets = {fk["referred_table"] for fk in sa.inspect(engine).get_foreign_keys("ent_project")}
    assert {"ent_account", "ent_opportunity", "sys_user"} <= targets
    assert publish(engine, meta).plan.is_empty  # applying it again changes nothing


def test_base_deployment_moves_onto_the_overlay_keeping_rows(engine: sa.Engine) -> None:
    _, base = load(ROOT / "config.yaml")
    publish(engine, base)
    insert(engine, "ent_account", {"name": "上海贸易有限公司"})
    insert(engine, "ent_opportunity", {"name": "ERP rollout", "account_id": 1,
                                       "stage": "proposal", "next_step": "Send the contract"})
    _, acme = load(ACME)
    plan = plan_change(engine, acme)
    assert sorted((s.op, s.entity, s.column or "") for s in plan.steps) == [
        ("add_column", "account", "region"),
        ("create_table", "project", ""),
        ("hide_column", "opportunity", "next_step"),
    ]
    assert not plan.unsupported and not plan.destructive
    result = publish(engine, acme)
    assert result.version == 2
    assert rows(engine, "ent_account", "name", "region") == [(1, "上海贸易有限公司", "east")]
    # hidden, not dropped: the column and its value are still there until a purge
    assert rows(engine, "ent_opportunity", "next_step") == [(1, "Send the contract")]


def test_crm_validate_accepts_the_overlay() -> None:
    _, meta = load(ACME)
    result = CliRunner().invoke(main, ["--config", str(ACME), "validate"],
                                env={"CRM_SECRET_KEY": "test-secret"})
    assert result.exit_code == 0, result.output
    assert f"OK: {len(meta.entities)} entities" in result.output
    assert meta.digest[:12] in result.output
