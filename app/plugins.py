"""The plugin manager: pluggy, with the specs of `app.hookspecs`.

Plugins are Python modules or objects with `@hookimpl` functions, loaded from the `crm.plugins`
entry point group (installed packages) and registered explicitly by tests. Plugin code cannot be
unloaded: changing plugins needs a restart, changing config never does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pluggy

from app import hookspecs

hookimpl = pluggy.HookimplMarker("crm")

#: core features that register as plugins (module paths), in registration order
BUILTIN_PLUGINS: tuple[str, ...] = ()


def make_plugin_manager(plugins: Iterable[Any] = (), *, entry_points: bool = True
                        ) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("crm")
    pm.add_hookspecs(hookspecs)
    import importlib

    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if entry_points:
        pm.load_setuptools_entrypoints("crm.plugins")
    for plugin in plugins:
        pm.register(plugin)
    return pm
