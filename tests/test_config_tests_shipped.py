"""The shipped config tests pass on the shipped config (and on the Acme example, whose own
folder removes the base check its pipeline changes and adds its own); the issue's three
examples are among them; the published (snapshot) version passes them too."""

from __future__ import annotations

from pathlib import Path

from app.configtests import load_checks, run_checks
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.settings import load_settings
from tests.webkit import ROOT


def results_for(config: Path) -> list[tuple[str, bool, str]]:
    settings = load_settings(config, environ={})
    checks, errors = load_checks(settings.config_test_dirs)
    assert errors == []
    meta = load_meta(settings.schema_dirs, settings.roles, workflow_dirs=settings.workflow_dirs)
    return [(r.name, r.passed, r.message) for r in run_checks(meta, checks)]


def test_the_default_pack_passes_its_checks() -> None:
    results = results_for(ROOT / "config.yaml")
    assert [r for r in results if not r[1]] == []
    names = {r[0] for r in results}
    assert 10 <= len(names) <= 25
    assert {"sales reps do not see the margin of a deal", "a won deal needs a close date",
            "a 45% discount goes to the manager, then a director"} <= names


def test_the_acme_overlay_passes_its_layered_checks() -> None:
    results = results_for(ROOT / "examples" / "acme" / "config.yaml")
    assert [r for r in results if not r[1]] == []
    names = [r[0] for r in results]
    assert "a sales rep may win a deal under 100,000" not in names
    assert "a deal is won only after the contract review" in names


def test_the_published_snapshot_passes_them_too() -> None:
    settings = load_settings(ROOT / "config.yaml", environ={})
    checks, _errors = load_checks(settings.config_test_dirs)
    meta = load_meta(settings.schema_dirs, settings.roles, workflow_dirs=settings.workflow_dirs)
    live = meta_from_dict(meta_to_dict(meta))
    failed = [(r.name, r.message) for r in run_checks(live, checks) if not r.passed]
    assert failed == []
