"""Loading plugins: from a plugin folder (packages and single modules, under private names),
from an installed entry point (once, even when also in the folder), a broken plugin as a clear
error, each registration hook reaching its registry, and the built-in pages as a plugin."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.actions import registry as actions
from app.expr import parse
from app.expr.functions import functions
from app.fields.base import registry as field_types
from app.meta.jsonschema import entity_schema
from app.plugins import BUILTIN_PLUGINS, PluginError, hookimpl, make_plugin_manager
from tests.factories import meta_of, write_schema
from tests.pluginkit import isolated_registries

FULL_PLUGIN = '''
import click
import marshmallow.fields as mf
import sqlalchemy as sa
import wtforms
from flask import Blueprint

from app.actions import Action
from app.fields.base import FieldType
from app.plugins import hookimpl

from . import helpers


class Colour(FieldType):
    name = "{name}_colour"
    expr_kind = "text"

    def sa_type(self, f):
        return sa.String(7)

    def form_field(self, f, locale="en"):
        return wtforms.StringField(**self.form_kwargs(f, locale))

    def api_field(self, f):
        return mf.String(**self.api_kwargs(f))


bp = Blueprint("{name}", __name__)
bp.add_url_rule("/{name}", "hello", helpers.hello)


@click.command("{name}-hello")
def hello_command():
    """Say hello from the plugin."""
    click.echo("hello from {name}")


@hookimpl
def crm_field_types():
    return [Colour]


@hookimpl
def crm_expr_functions(registry):
    registry.register("{name}_twice", helpers.twice, min_args=1, max_args=1, kind="number")


@hookimpl
def crm_actions():
    return [Action("{name}_act", helpers.act)]


@hookimpl
def crm_web_blueprints():
    return [bp]


@hookimpl
def crm_cli_commands():
    return [hello_command]
'''
HELPERS = '''
def twice(value):
    return None if value is None else value * 2


def act(context, params):
    pass


def hello():
    return "hello"
'''


def unique() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


def full_plugin(folder: Path, name: str) -> Path:
    pkg = folder / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(FULL_PLUGIN.replace("{name}", name), encoding="utf-8")
    (pkg / "helpers.py").write_text(HELPERS, encoding="utf-8")
    return pkg / "__init__.py"


@pytest.fixture(autouse=True)
def isolated() -> Iterator[None]:
    with isolated_registries():
        yield


def test_folder_packages_and_modules_load_under_private_names(tmp_path: Path) -> None:
    pkg, single = unique(), unique()
    full_plugin(tmp_path, pkg)
    (tmp_path / f"{single}.py").write_text(
        "from app.plugins import hookimpl\n\n@hookimpl\ndef crm_actions():\n    return []\n",
        encoding="utf-8")
    (tmp_path / "_private.py").write_text("raise RuntimeError('never imported')\n")
    (tmp_path / "README.md").write_text("# not a plugin\n")
    (tmp_path / "notes").mkdir()  # a folder without __init__.py is not a plugin
    pm = make_plugin_manager(entry_points=False, plugin_dir=tmp_path)
    names = [n for n, _ in pm.list_name_plugin()]
    assert names == [*BUILTIN_PLUGINS, *sorted([pkg, single])]
    assert pm.get_plugin(pkg).__name__ == f"crm_plugins.{pkg}"
    assert f"crm_plugins.{pkg}.helpers" in sys.modules  # its relative import worked
    assert pm.get_plugin(single).__name__ == f"crm_plugins.{single}"
    again = make_plugin_manager(entry_points=False, plugin_dir=tmp_path)
    assert again.get_plugin(pkg) is pm.get_plugin(pkg)  # imported once per process


def test_no_folder_means_no_folder_plugins(tmp_path: Path) -> None:
    pm = make_plugin_manager(entry_points=False, plugin_dir=tmp_path / "missing")
    assert [n for n, _ in pm.list_name_plugin()] == list(BUILTIN_PLUGINS)


def test_installed_and_in_the_folder_loads_once(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    name = unique()
    site = tmp_path / "site"
    dist = site / f"{name}_dist-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-dist\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[crm.plugins]\n{name} = {name}_installed\n")
    (site / f"{name}_installed.py").write_text(
        "from app.plugins import hookimpl\n\n@hookimpl\ndef crm_actions():\n    return []\n")
    folder = tmp_path / "plugins"
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text("raise RuntimeError('the folder copy loaded')\n")
    monkeypatch.syspath_prepend(str(site))
    pm = make_plugin_manager(entry_points=True, plugin_dir=folder)
    assert pm.get_plugin(name).__name__ == f"{name}_installed"
    assert [n for n, _ in pm.list_name_plugin()].count(name) == 1
    assert f"crm_plugins.{name}" not in sys.modules


def test_a_plugin_that_fails_to_import_is_a_clear_error(tmp_path: Path) -> None:
    name = unique()
    (tmp_path / name).mkdir()
    init = tmp_path / name / "__init__.py"
    init.write_text("from . import part\n")
    (tmp_path / name / "part.py").write_text("x = 1\nraise RuntimeError('no licence key')\n")
    with pytest.raises(PluginError) as err:
        make_plugin_manager(entry_points=False, plugin_dir=tmp_path)
    message = str(err.value)
    assert f"plugin '{name}' failed to import" in message
    assert f"{tmp_path / name / 'part.py'}:2" in message
    assert "RuntimeError: no licence key" in message
    assert not [m for m in sys.modules if m.startswith(f"crm_plugins.{name}")]


def test_a_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    name = unique()
    (tmp_path / f"{name}.py").write_text("import os\n\ndef broken(:\n    pass\n")
    with pytest.raises(PluginError, match=rf"{name}\.py:3\): SyntaxError"):
        make_plugin_manager(entry_points=False, plugin_dir=tmp_path)


def test_the_cli_refuses_to_start_with_a_broken_plugin(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    bad = tmp_path / "plugins" / f"{unique()}.py"
    bad.write_text("raise ImportError('needs the vendor SDK')\n")
    (tmp_path / "config.yaml").write_text("plugins: plugins\n")
    from app.cli import main

    result = CliRunner().invoke(main, ["--config", str(tmp_path / "config.yaml"), "--help"])
    assert result.exit_code == 1
    assert str(bad) in result.output and "needs the vendor SDK" in result.output
    assert "Traceback" not in result.output


def test_each_registration_hook_reaches_its_registry(tmp_path: Path) -> None:
    name = unique()
    full_plugin(tmp_path / "plugins", name)
    make_plugin_manager(entry_points=False, plugin_dir=tmp_path / "plugins")
    # field type: valid in YAML and in the entity JSON Schema, not in the shipped one
    assert field_types.plugin_of(f"{name}_colour") == name
    write_schema(tmp_path / "s", "thing", {"entity": "thing", "fields": {
        "title": {"type": "string"}, "colour": {"type": f"{name}_colour"}}})
    assert meta_of(tmp_path / "s").entities["thing"].fields["colour"].type == f"{name}_colour"
    enum = entity_schema(field_types)["properties"]["fields"]["additionalProperties"][
        "properties"]["type"]["enum"]
    assert f"{name}_colour" in enum
    assert f"{name}_colour" not in field_types.builtin()
    # expression function and action
    assert parse(f"{name}_twice(21)", {}).evaluate({}) == 42
    assert actions.get(f"{name}_act") is not None
    # idempotent: a second manager (the next config version's app) changes nothing
    make_plugin_manager(entry_points=False, plugin_dir=tmp_path / "plugins")
    assert functions.names().count(f"{name}_twice") == 1


def test_registrations_are_undone_after_a_test(tmp_path: Path) -> None:
    name = unique()
    full_plugin(tmp_path, name)
    with isolated_registries():
        make_plugin_manager(entry_points=False, plugin_dir=tmp_path)
        assert f"{name}_colour" in field_types and f"{name}_twice" in functions
    assert f"{name}_colour" not in field_types and f"{name}_twice" not in functions
    assert f"{name}_act" not in actions
    make_plugin_manager(entry_points=False, plugin_dir=tmp_path)  # applied again: not stale
    assert f"{name}_colour" in field_types


def test_a_refused_registration_names_the_plugin() -> None:
    from app.fields.text import StringType

    class Clash(StringType):
        name = "string"

    class Plugin:
        @hookimpl
        def crm_field_types(self) -> list[type]:
            return [Clash]

    with pytest.raises(PluginError, match=r"could not register: field type 'string' is "
                                          r"registered twice"):
        make_plugin_manager([Plugin()], entry_points=False)


def test_a_hook_returning_the_wrong_thing_is_refused() -> None:
    class Plugin:
        @hookimpl
        def crm_actions(self) -> list[str]:
            return ["not an action"]

    with pytest.raises(PluginError, match=r"is not an app\.actions\.Action"):
        make_plugin_manager([Plugin()], entry_points=False)


def test_plugin_pages_and_commands(tmp_path: Path, database_url: str) -> None:
    from app.cli import main
    from tests.webkit import deployment, sign_in

    name = unique()
    full_plugin(tmp_path / "plugins", name)
    ctx = deployment(tmp_path / "d", database_url, pack="small",
                     extra_config=f"plugins: {tmp_path / 'plugins'}\n")
    try:
        from app.web import create_app

        app = create_app(ctx, testing=True)  # the deployment's plugins: plugin_manager_for
        client = app.test_client()
        sign_in(client)
        assert client.get(f"/{name}").text == "hello"
        config = str(tmp_path / "d" / "config.yaml")
        helped = CliRunner().invoke(main, ["--config", config, "--help"])
        assert f"{name}-hello" in helped.output
        ran = CliRunner().invoke(main, ["--config", config, f"{name}-hello"])
        assert ran.exit_code == 0 and f"hello from {name}" in ran.output
    finally:
        ctx.dispose()


def test_builtin_pages_come_through_the_hook(tmp_path: Path, database_url: str) -> None:
    from app.web import create_app
    from tests.webkit import deployment

    assert "app.web.pages" in BUILTIN_PLUGINS
    ctx = deployment(tmp_path, database_url, pack="small")
    try:
        pm = make_plugin_manager(entry_points=False)
        assert {"lists", "forms", "detail", "board", "search"} <= set(
            create_app(ctx, plugins=pm, testing=True).blueprints)
        pm.set_blocked("app.web.pages")  # without the built-in plugin: no generated pages
        assert "lists" not in create_app(ctx, plugins=pm, testing=True).blueprints
    finally:
        ctx.dispose()


def test_cli_help_works_without_a_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    from app.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRM_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and "validate" in result.output
