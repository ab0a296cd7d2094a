"""Test kit for plugins: load the example plugins from the repository's plugins/ folder, and
keep the process-wide registries (field types, expression functions, actions) as they were
before a test, so a plugin loaded by one test is not seen by the next one in the worker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pluggy

from app import plugins
from app.actions import registry as actions
from app.expr.functions import functions
from app.fields.base import registry as field_types

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "plugins"


@contextmanager
def isolated_registries() -> Iterator[None]:
    """Undo every registration made inside the block (test-only: reaches into the action
    registry and the plugin manager's record of applied plugins)."""
    types_before = set(field_types.names())
    functions_before = set(functions.names())
    actions_before = dict(actions._actions)
    applied_before = dict(plugins._applied)
    try:
        yield
    finally:
        for name in set(field_types.names()) - types_before:
            field_types.unregister(name)
        for name in set(functions.names()) - functions_before:
            functions.unregister(name)
        actions._actions.clear()
        actions._actions.update(actions_before)
        plugins._applied.clear()
        plugins._applied.update(applied_before)


@contextmanager
def example_plugins(*extra: Any) -> Iterator[pluggy.PluginManager]:
    """A plugin manager with the repository's plugins/ folder loaded (and `extra` plugins),
    registrations undone afterwards."""
    with isolated_registries():
        yield plugins.make_plugin_manager(extra, entry_points=False, plugin_dir=PLUGINS)


def plugin_config() -> str:
    """The config.yaml line of a test deployment that loads the example plugins."""
    return f"plugins: {PLUGINS}\n"
