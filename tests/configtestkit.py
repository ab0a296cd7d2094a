"""Test kit for config tests: the default pack's Meta, and checks written as YAML text."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from app.configtests import Check, CheckResult, load_check_texts, run_checks
from app.meta.loader import load_meta
from app.meta.types import Meta
from tests.factories import ROLES
from tests.webkit import ROOT


def default_meta(*overlay_schemas: Path, overlay_workflows: tuple[Path, ...] = ()) -> Meta:
    """The shipped pack (schemas and workflows), with overlay folders on top."""
    return load_meta([ROOT / "schemas", *overlay_schemas], ROLES,
                     workflow_dirs=[ROOT / "workflows", *overlay_workflows])


def checks_of(text: str, name: str = "checks.yaml") -> list[Check]:
    """The checks of one file's text (which must have no problems)."""
    checks, errors = load_check_texts([(0, name, text)])
    assert not errors, [str(e) for e in errors]
    return checks


def run_one(meta: Meta, text: str, engine: sa.Engine | None = None) -> CheckResult:
    """Run the single check `text` (`checks:` and one item) against `meta`."""
    results = run_checks(meta, checks_of(text), engine)
    assert len(results) == 1
    return results[0]
