"""The plugin manager: pluggy, with the specs of `app.hookspecs` (docs/plugins.md).

Plugins are Python modules or objects with `@hookimpl` functions. They come from, in this order:
the built-in plugins (`BUILTIN_PLUGINS`: core features such as the generated pages), the
`crm.plugins` entry point group (installed packages), the deployment's plugin folder
(`plugins:` in config.yaml: each `plugins/<name>/__init__.py` or `plugins/<name>.py`, imported
as `crm_plugins.<name>`), and plugins passed explicitly (tests). A plugin is registered under its
entry point or folder name; one that is both installed and in the folder loads once (the
installed one). A plugin that fails to import stops the start with a `PluginError` naming its
file: the app never runs half-plugged.

The registration hooks (field types, expression functions, actions) feed process-wide
registries; they run when a manager is made, once per plugin per process. Plugin code cannot be
unloaded: changing plugins needs a restart, changing config never does.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import traceback
import types
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from app import hookspecs

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker("crm")

#: core features that register as plugins (module paths), in registration order
BUILTIN_PLUGINS: tuple[str, ...] = (
    "app.web.pages",
    "app.events.plugin",
    "app.workflow.plugin",
    "app.workflow.approvals.lock",
    "app.web.duplicates", "app.api.duplicates",
    "app.web.campaign_mail", "app.web.archive", "app.consent.plugin", "app.archive.plugin",
    "app.web.documents",
    "app.kb.plugin",
    "app.surveys.action",
    "app.web.kb",
    "app.web.surveys",
    "app.api.kb",
    "app.targets.plugin",
    "app.api.targets",
    "app.comms.plugin",
    "app.web.email",
)

#: the package under which folder plugins are imported (`crm_plugins.<name>`)
FOLDER_PACKAGE = "crm_plugins"
ENTRY_POINT_GROUP = "crm.plugins"

_lock = threading.RLock()
#: id(plugin) -> plugin whose registration hooks ran in this process (kept alive: plugin
#: code cannot be unloaded anyway)
_applied: dict[int, object] = {}


class PluginError(Exception):
    """A plugin could not be loaded or what it registers is refused. The message names the
    plugin and its file."""


def make_plugin_manager(plugins: Iterable[Any] = (), *, entry_points: bool = True,
                        plugin_dir: Path | str | None = None) -> pluggy.PluginManager:
    """A manager with the built-in plugins, the installed ones (`entry_points`), those in
    `plugin_dir`, and `plugins`; their registration hooks applied (see `apply_registrations`).
    Raises PluginError when a plugin fails to import or registers something refused."""
    pm = pluggy.PluginManager("crm")
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if entry_points:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:
            raise PluginError(f"an installed plugin (entry point group {ENTRY_POINT_GROUP!r}) "
                              f"failed to load: {type(exc).__name__}: {exc}") from exc
    if plugin_dir is not None:
        load_plugin_dir(pm, Path(plugin_dir))
    for plugin in plugins:
        pm.register(plugin)
    apply_registrations(pm)
    return pm


def plugin_manager_for(settings: Settings | None) -> pluggy.PluginManager:
    """The manager of a deployment: built-ins, installed plugins and its `plugins:` folder
    (only the installed ones without settings, e.g. `crm --help` where no config.yaml is)."""
    return make_plugin_manager(plugin_dir=settings.plugins_dir if settings else None)


# --- the plugin folder -----------------------------------------------------------------------
def folder_plugins(folder: Path) -> list[tuple[str, Path]]:
    """(name, file) of each plugin in `folder`, by name: packages `<name>/__init__.py` and
    modules `<name>.py`; names starting with `_` or `.` are skipped. No folder, no plugins."""
    if not folder.is_dir():
        if folder.exists():
            raise PluginError(f"the plugin folder {folder} is not a folder")
        log.debug("plugin folder %s does not exist: no folder plugins", folder)
        return []
    found: list[tuple[str, Path]] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(("_", ".")):
            continue
        if entry.is_dir() and (entry / "__init__.py").is_file():
            name, file = entry.name, entry / "__init__.py"
        elif entry.is_file() and entry.suffix == ".py":
            name, file = entry.stem, entry
        else:
            continue
        if not name.isidentifier():
            raise PluginError(f"{file}: plugin name {name!r} is not a Python identifier "
                              "(use letters, digits and underscores)")
        found.append((name, file))
    return found


def load_plugin_dir(pm: pluggy.PluginManager, folder: Path) -> list[str]:
    """Import and register every plugin of `folder`; the names registered. A name already
    registered (an installed plugin of the same name) is skipped."""
    loaded: list[str] = []
    for name, file in folder_plugins(folder):
        if pm.has_plugin(name) or pm.is_blocked(name):
            log.info("plugin %s is installed; its copy in %s is not loaded", name, file)
            continue
        pm.register(import_plugin(name, file), name=name)
        loaded.append(name)
    return loaded


def import_plugin(name: str, file: Path) -> types.ModuleType:
    """Import `file` as `crm_plugins.<name>` (once per process). Raises PluginError naming the
    file (and line) when it fails, leaving nothing of it in `sys.modules`."""
    file = file.resolve()
    modname = f"{FOLDER_PACKAGE}.{name}"
    with _lock:
        known = sys.modules.get(modname)
        if known is not None:
            if Path(str(known.__file__)).resolve() == file:
                return known
            raise PluginError(f"{file}: a plugin named {name!r} is already loaded from "
                              f"{known.__file__}; plugin names must be unique")
        if FOLDER_PACKAGE not in sys.modules:
            package = types.ModuleType(FOLDER_PACKAGE, "Plugins loaded from plugin folders.")
            package.__path__ = []
            sys.modules[FOLDER_PACKAGE] = package
        is_package = file.name == "__init__.py"
        spec = importlib.util.spec_from_file_location(
            modname, file, submodule_search_locations=[str(file.parent)] if is_package else None)
        if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
            raise PluginError(f"{file}: cannot be imported as a plugin")
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            for loaded in [m for m in sys.modules if m == modname or m.startswith(modname + ".")]:
                del sys.modules[loaded]
            where = _where(exc, file.parent if is_package else file)
            raise PluginError(f"plugin {name!r} failed to import ({where or file}): "
                              f"{type(exc).__name__}: {exc}") from exc
        return module


def _where(exc: BaseException, root: Path) -> str | None:
    """`file:line` of the innermost frame inside the plugin (`root`), if any."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    inside = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename) == root or root in Path(f.filename).parents]
    return f"{inside[-1].filename}:{inside[-1].lineno}" if inside else None


def plugin_file(pm: pluggy.PluginManager, plugin: object) -> str:
    """Where a plugin comes from, for error messages: its file, else its name."""
    return str(getattr(plugin, "__file__", None) or pm.get_name(plugin) or plugin)


# --- results of hooks, per plugin ------------------------------------------------------------
def results_by_plugin(pm: pluggy.PluginManager, hook: str, **kwargs: Any
                      ) -> list[tuple[str, Any]]:
    """(plugin name, result) of `hook` for each plugin implementing it, in registration order
    (built-ins first), so a caller can say which plugin returned something it refuses."""
    everyone = [p for _, p in pm.list_name_plugin() if p is not None]
    out: list[tuple[str, Any]] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None or not any(impl.plugin is plugin
                                     for impl in getattr(pm.hook, hook).get_hookimpls()):
            continue
        others = [p for p in everyone if p is not plugin]
        for result in pm.subset_hook_caller(hook, others)(**kwargs):
            out.append((name, result))
    return out


def collect(pm: pluggy.PluginManager, hook: str, kind: type | tuple[type, ...]
            ) -> list[tuple[str, Any]]:
    """(plugin name, item) of every item of the lists `hook` returned, each checked to be a
    `kind`. Raises PluginError naming the plugin otherwise."""
    items: list[tuple[str, Any]] = []
    for name, result in results_by_plugin(pm, hook):
        if result is None:
            continue
        if not isinstance(result, list | tuple):
            raise PluginError(f"plugin {name!r}: {hook}() must return a list, not "
                              f"{type(result).__name__}")
        for item in result:
            if not isinstance(item, kind):
                raise PluginError(f"plugin {name!r}: {hook}() returned {item!r}, which is not "
                                  f"a {_kind_name(kind)}")
            items.append((name, item))
    return items


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(f"{k.__module__}.{k.__qualname__}" for k in kinds)


# --- phase 1: registration -------------------------------------------------------------------
def apply_registrations(pm: pluggy.PluginManager) -> None:
    """Run the registration hooks of the plugins of `pm` not yet applied in this process:
    `crm_field_types` into `app.fields.base.registry`, `crm_expr_functions` into the default
    expression function registry, `crm_actions` into `app.actions.registry`. Idempotent:
    another manager with the same plugins (a new config version's app, a test) changes
    nothing. A refused registration raises PluginError naming the plugin."""
    from app.actions import Action
    from app.actions import registry as actions
    from app.expr.functions import functions
    from app.fields.base import FieldType
    from app.fields.base import registry as field_types

    with _lock:
        everyone = [p for _, p in pm.list_name_plugin() if p is not None]
        for name, plugin in pm.list_name_plugin():
            if plugin is None or id(plugin) in _applied:
                continue
            others = [p for p in everyone if p is not plugin]
            try:
                for result in pm.subset_hook_caller("crm_field_types", others)():
                    for cls in result or ():
                        if not (isinstance(cls, type) and issubclass(cls, FieldType)):
                            raise PluginError(f"crm_field_types() returned {cls!r}, which is "
                                              "not a subclass of app.fields.base.FieldType")
                        field_types.register(cls, plugin=name)
                pm.subset_hook_caller("crm_expr_functions", others)(registry=functions)
                for result in pm.subset_hook_caller("crm_actions", others)():
                    for action in result or ():
                        if not isinstance(action, Action):
                            raise PluginError(f"crm_actions() returned {action!r}, which is "
                                              "not an app.actions.Action")
                        actions.register(action)
            except Exception as exc:
                raise PluginError(f"plugin {name!r} ({plugin_file(pm, plugin)}) could not "
                                  f"register: {exc}") from exc
            _applied[id(plugin)] = plugin
