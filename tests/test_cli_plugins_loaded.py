"""Every `crm` command loads the deployment's plugins (`Context.plugins`): `crm validate` and
`crm migrate` know a plugin's field type and action, and `crm worker --burst` runs a plugin's
action queued by a save, each as in a fresh process where nothing registered them before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from app import plugins
from app.actions import registry as actions
from app.cli import main
from app.context import Context
from app.expr.functions import functions
from app.fields.base import registry as field_types
from app.model.build import build_models
from app.model.system_events import DONE, automation_runs
from app.records import Records
from app.runtime import Runtime
from app.settings import load_settings
from tests.pluginkit import isolated_registries, plugin_config
from tests.webhookkit import receiver

PERSON = """entity: person
title: name
fields:
  name: {type: string, required: true}
  rid: {type: cn_resident_id}
"""
AUTOMATION = """automations:
  person_to_chat:
    entity: person
    events: [created]
    actions:
      - chat_notify: {url_env: TEST_CHAT_URL, format: generic, text: "new person {name}"}
"""
PLUGIN_TYPES = ("cn_resident_id", "cn_uscc")


def forget_example_plugins() -> None:
    """As in a new process: the example plugins' registrations are not there (the block of
    `isolated_registries` around the test restores the registries afterwards)."""
    for name in PLUGIN_TYPES:
        field_types.unregister(name)
    functions.unregister("birth_date_of")
    actions._actions.pop("chat_notify", None)
    for key, plugin in list(plugins._applied.items()):
        if getattr(plugin, "__name__", "").startswith(plugins.FOLDER_PACKAGE + "."):
            del plugins._applied[key]
    assert "cn_resident_id" not in field_types and "chat_notify" not in actions


@pytest.fixture
def project(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[Path]:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "person.yaml").write_text(PERSON, encoding="utf-8")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "chat.yaml").write_text(AUTOMATION, encoding="utf-8")
    (tmp_path / "config.yaml").write_text(
        "schemas: schemas\nworkflows: workflows\nmigrations: migrations\ninstance: instance\n"
        "roles: [admin]\ntask_queue: sqlite\nembedded_worker: false\n" + plugin_config(),
        encoding="utf-8")
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    with isolated_registries():
        forget_example_plugins()
        yield tmp_path


def crm(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["--config", str(project / "config.yaml"), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_validate_and_migrate_know_plugin_types_and_actions(project: Path) -> None:
    checked = crm(project, "validate")
    assert checked.exit_code == 0, checked.output
    assert "OK: 1 entities" in checked.output
    forget_example_plugins()
    done = crm(project, "migrate", "-m", "with plugins")
    assert done.exit_code == 0, done.output
    assert "Config version 1 is live." in done.output
    forget_example_plugins()
    assert crm(project, "plan").exit_code == 0


def test_a_broken_plugin_stops_a_command_with_a_plain_message(project: Path) -> None:
    broken = project / "broken_plugins"
    broken.mkdir()
    (broken / "oops.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    config = project / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        plugin_config(), f"plugins: {broken}\n"), encoding="utf-8")
    result = crm(project, "validate")
    assert result.exit_code == 1
    assert "plugin 'oops' failed to import" in result.output and "boom" in result.output


def test_worker_burst_runs_a_queued_plugin_action(project: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert crm(project, "migrate").exit_code == 0
    with receiver() as chat:
        monkeypatch.setenv("TEST_CHAT_URL", chat.url + "/hook")
        saver = Context(load_settings(project / "config.yaml"))
        try:  # a web process saves; its run waits in the outbox for a worker
            Records(saver.engine, build_models(saver.yaml_meta()), plugins=saver.plugins
                    ).create("person", {"name": "Li", "rid": "11010519491231002X"})
        finally:
            saver.dispose()
        forget_example_plugins()  # the worker is another process
        burst = crm(project, "worker", "--burst")
        assert burst.exit_code == 0, burst.output
        assert [r.json["text"] for r in chat.requests] == ["new person Li"]
    settled = Context(load_settings(project / "config.yaml"))
    try:
        with settled.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(sa.select(automation_runs))]
    finally:
        settled.dispose()
    assert [(r["automation"], r["status"], r["attempts"]) for r in rows] == [
        ("person_to_chat", DONE, 1)], rows


def test_runtime_uses_the_context_plugins_unless_given_some(project: Path) -> None:
    ctx = Context(load_settings(project / "config.yaml"))
    try:
        assert ctx.plugins is ctx.plugins  # made once per Context
        assert ctx.plugins.has_plugin("cn_ids") and "cn_resident_id" in field_types
        assert Runtime(ctx).plugins is ctx.plugins
        explicit: Any = plugins.make_plugin_manager(entry_points=False)
        assert Runtime(ctx, explicit).plugins is explicit
    finally:
        ctx.dispose()


def test_a_queue_registers_the_plugins_actions(project: Path) -> None:
    ctx = Context(load_settings(project / "config.yaml"))
    try:
        assert "chat_notify" not in actions
        ctx.queue  # noqa: B018  (the worker's first step, in `crm worker` and `crm serve`)
        assert "chat_notify" in actions and "cn_resident_id" in field_types
    finally:
        ctx.dispose()
