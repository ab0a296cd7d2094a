"""The shipped migrations/ end where the shipped schemas/ are: a fresh clone's `make run`
replays them and records nothing new (a change to the default pack needs its migration file,
made with `crm migrate -m ...`)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from app.meta.loader import load_meta
from app.migrate.files import read_all
from app.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_last_shipped_migration_is_the_shipped_pack() -> None:
    settings = load_settings(ROOT / "config.yaml", environ={})
    files = read_all(ROOT / "migrations")
    assert files, "migrations/ is empty"
    # as `crm setup` / `crm migrate` read it: schemas and workflows (stage machines, webhooks)
    meta = load_meta(settings.schema_dirs, settings.roles, workflow_dirs=settings.workflow_dirs,
                     report_dirs=settings.report_dirs)
    assert files[-1].to_digest == meta.digest, (
        "schemas/ or workflows/ changed since the last file in migrations/: run "
        "`CRM_DATABASE_URL=sqlite:////tmp/x.db crm migrate -m '<what changed>'` and commit it")
    for before, after in pairwise(files):
        assert after.from_digest == before.to_digest
