"""`crm setup` makes one demo user per role, in teams, owning part of the demo records: signing
in as rep1 shows a sales rep's view, as manager their manager's."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.cli import main
from app.context import Context
from app.migrate.publish import active_version
from app.model.access import user_teams
from app.model.build import build_models
from app.model.system import users
from app.records import Actor, Records
from app.records.query import ListQuery, run
from tests.factories import ROLES

ROOT = Path(__file__).resolve().parent.parent


def test_setup_makes_demo_users_who_own_part_of_the_data(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"schemas: {ROOT / 'schemas'}\nroles: [{', '.join(ROLES)}]\n"
                      f"migrations: {tmp_path / 'migrations'}\n", encoding="utf-8")
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    monkeypatch.setenv("CRM_ENCRYPTION_KEY", "Xb2fU3sY1V0rQm1kz7c7r1m0FzQeGd0p3c8k5h2vJ8o=")
    result = CliRunner().invoke(main, ["--config", str(config), "setup"])
    assert result.exit_code == 0, result.output
    assert "rep1 (sales_rep)" in result.output and "manager (sales_manager)" in result.output
    ctx = Context.from_env(config)
    try:
        with ctx.engine.connect() as conn:
            ids = dict(conn.execute(sa.select(users.c.username, users.c.id)).all())
            teams = conn.execute(sa.select(user_teams.c.team)
                                 .where(user_teams.c.user_id == ids["rep1"])).scalars().all()
            _, meta = active_version(conn)
        assert teams == ["east"]
        assert meta is not None
        models = build_models(meta)

        def seen(name: str, role: str) -> set[int]:
            rec = Records(ctx.engine, models, actor=Actor(ids[name], name, (role,)))
            return {r["owner_id"] for r in run(rec, "opportunity", ListQuery(page_size=500)).rows}

        assert seen("rep1", "sales_rep") == {ids["rep1"]}
        assert seen("manager", "sales_manager") >= {ids["rep1"], ids["rep2"], ids["manager"]}
        assert ids["director"] not in seen("manager", "sales_manager")
    finally:
        ctx.dispose()
