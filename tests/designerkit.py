"""Test kit for the designer: the default pack (schemas/ and workflows/) copied into a folder,
published WITH its files (as `crm setup` does), demo users, and helpers to read the YAML back.

    ctx = designer_deployment(tmp_path, database_url)
    designer = Designer(ctx)
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from app.migrate.publish import publish
from app.model.system import create_system_tables
from app.settings import load_settings
from app.users import create_user
from tests.dbtemplates import prefill
from tests.webkit import ROLES, ROOT, USERS

#: a new field as the designer's field form sends it
TIER = {"type": "picklist", "label": {"en": "Loyalty tier", "zh": "会员等级"},
        "choices": [{"value": "gold", "label": {"en": "Gold", "zh": "金卡"}, "color": "#d4a017"},
                    {"value": "silver", "label": {"en": "Silver", "zh": "银卡"}}]}


def designer_deployment(folder: Path, database_url: str, *, extra_config: str = "",
                        overlay: bool = False) -> Context:
    """The default pack in `folder` (schemas/, workflows/, config.yaml), published with its
    files. With `overlay`, `folder/client` is a client overlay extending it (empty schemas/ and
    workflows/), and the Context is the client's."""
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    shutil.copytree(ROOT / "workflows", folder / "workflows")
    shutil.copytree(ROOT / "config_tests", folder / "config_tests")
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nworkflows: workflows\nroles: [{', '.join(ROLES)}]\n"
        "migrations: migrations\nlogin_rate_limit: 1000 per minute\ntask_queue: immediate\n"
        f"{extra_config}", encoding="utf-8")
    config = folder / "config.yaml"
    if overlay:
        client = folder / "client"
        (client / "schemas").mkdir(parents=True)
        (client / "workflows").mkdir()
        (client / "config.yaml").write_text(
            "extends: ../config.yaml\nschemas: schemas\nworkflows: workflows\n"
            "migrations: migrations\n", encoding="utf-8")
        config = client / "config.yaml"
    ctx = Context(load_settings(config, environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    prefill(ctx, folder, _fill_designer, USERS)
    return ctx


def _fill_designer(ctx: Context) -> None:
    """What `designer_deployment` writes to its database (tests/dbtemplates.py copies it)."""
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, password, roles in USERS:
            create_user(conn, username, password, roles, ctx.settings.roles,
                        full_name=username.capitalize())
    files = ctx.yaml_files()
    publish(ctx.engine, ctx.yaml_meta(files), author="setup", files=files)


@pytest.fixture
def designer_ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    """Bind in a test module: `designer_ctx = designerkit.designer_ctx`."""
    made = designer_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def field_change(entity: str = "account", name: str = "tier",
                 definition: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"op": "field", "entity": entity, "field": name, "definition": definition or TIER}
