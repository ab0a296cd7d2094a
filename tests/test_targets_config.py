"""`targets:` in workflows/*.yaml: each problem is a located, coded error (CRM-E136..E139, the
expression codes for `when`), the checked metrics land on the Meta and survive the config
version's snapshot, and an overlay changes a metric key by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta.errors import ConfigError, ConfigErrors
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta
from tests.factories import ROLES
from tests.targetskit import ROOT, write_pack

GOOD = (ROOT / "workflows" / "targets.yaml").read_text(encoding="utf-8")


def _load(tmp_path: Path, text: str, *more: Path) -> tuple[Meta | None, list[ConfigError]]:
    write_pack(tmp_path, text)
    try:
        return load_meta([tmp_path / "schemas"], ROLES,
                         workflow_dirs=[tmp_path / "workflows", *more]), []
    except ConfigErrors as exc:
        return None, list(exc.errors)


def test_the_shipped_metrics_load(tmp_path: Path) -> None:
    meta, errors = _load(tmp_path, GOOD)
    assert errors == [] and meta is not None
    metrics = meta.feature("targets")
    assert list(metrics) == ["revenue", "won_deals", "new_customers"]
    revenue = metrics["revenue"]
    assert (revenue.entity, revenue.measure, revenue.field, revenue.date, revenue.user,
            revenue.kind, revenue.target_field) == (
        "opportunity", "sum", "amount", "close_date", "owner", "currency", "target_amount")
    assert metrics["won_deals"].whole and metrics["won_deals"].target_field == "target_count"
    assert metrics["new_customers"].label_for("zh_CN") == "新客户数"
    again = meta_from_dict(meta_to_dict(meta)).feature("targets")
    assert {n: (m.entity, m.measure, m.field, m.date, m.user, m.when, m.kind, dict(m.label))
            for n, m in again.items()} == {
        n: (m.entity, m.measure, m.field, m.date, m.user, m.when, m.kind, dict(m.label))
        for n, m in metrics.items()}


def test_the_shipped_file_fits_the_default_pack() -> None:
    meta = load_meta([ROOT / "schemas"], ROLES, workflow_dirs=[ROOT / "workflows"])
    assert set(meta.feature("targets")) == {"revenue", "won_deals", "new_customers"}


BAD = {
    "unknown entity": ("targets:\n  revenue: {entity: deal, date: close_date}\n",
                       "CRM-E136", 2),
    "unknown sum field": ("targets:\n  revenue:\n    entity: opportunity\n"
                          "    measure: {sum: amont}\n    date: close_date\n", "CRM-E137", 4),
    "unknown date": ("targets:\n  revenue: {entity: opportunity, date: closed}\n",
                     "CRM-E137", 2),
    "sum of text": ("targets:\n  revenue:\n    entity: opportunity\n    measure: {sum: name}\n"
                    "    date: close_date\n", "CRM-E138", 4),
    "date no date": ("targets:\n  revenue: {entity: opportunity, date: amount}\n",
                     "CRM-E138", 2),
    "user no user": ("targets:\n  revenue: {entity: opportunity, date: close_date, "
                     "user: account}\n", "CRM-E138", 2),
    "when not yes/no": ("targets:\n  revenue: {entity: opportunity, date: close_date, "
                        "when: \"amount + 1\"}\n", "CRM-E139", 2),
    "when unknown name": ("targets:\n  revenue: {entity: opportunity, date: close_date, "
                          "when: \"stag == 'won'\"}\n", "CRM-E042", 2),
    "missing date": ("targets:\n  revenue: {entity: opportunity}\n", "CRM-E012", 2),
    "unknown key": ("targets:\n  revenue: {entity: opportunity, date: close_date, "
                    "per: owner}\n", "CRM-E011", 2),
}


@pytest.mark.parametrize("case", list(BAD))
def test_problems_are_located_and_coded(tmp_path: Path, case: str) -> None:
    text, code, line = BAD[case]
    others = "\n".join(GOOD.split("\n")[GOOD.split("\n").index("  won_deals:"):])
    _meta, errors = _load(tmp_path, text + others)
    assert [e.code for e in errors] == [code], errors
    assert errors[0].source.file.endswith("targets.yaml") and errors[0].source.line == line


def test_the_target_entity_must_offer_only_defined_metrics(tmp_path: Path) -> None:
    without_new = GOOD[:GOOD.index("  # New customers")]
    _meta, errors = _load(tmp_path, without_new)
    assert [e.code for e in errors] == ["CRM-E136"]
    assert "'new_customers'" in errors[0].message
    assert errors[0].source.file.endswith("sales_target.yaml")


def test_an_overlay_changes_a_metric_key_by_key_or_removes_it(tmp_path: Path) -> None:
    overlay = tmp_path / "client"
    overlay.mkdir()
    (overlay / "targets.yaml").write_text(
        "targets:\n  revenue: {label: {en: Bookings}, when: \"stage in ['won', 'proposal']\"}\n"
        "  extra: {entity: opportunity, date: created_at, user: owner_id}\n",
        encoding="utf-8")
    meta, errors = _load(tmp_path, GOOD, overlay)
    assert errors == [] and meta is not None
    revenue = meta.feature("targets")["revenue"]
    assert (revenue.label_for("en"), revenue.field, revenue.when) == (
        "Bookings", "amount", "stage in ['won', 'proposal']")
    assert meta.feature("targets")["extra"].user == "owner"
