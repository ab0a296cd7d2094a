"""What a command or a worker needs: settings, the database engine, the deployment's plugins,
and the config from YAML."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.db import make_engine
from app.meta.files import ConfigFiles
from app.meta.loader import load_meta
from app.meta.types import Meta
from app.settings import Settings, load_settings

if TYPE_CHECKING:
    import pluggy
    from huey import Huey

_PLUGINS_LOCK = threading.Lock()


@dataclass
class Context:
    settings: Settings
    _engine: sa.Engine | None = field(default=None, repr=False)
    _plugins: pluggy.PluginManager | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, config_file: str | Path | None = None) -> Context:
        return cls(load_settings(config_file))

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            url = self.settings.database_url
            if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self._engine = make_engine(url)
            from app.crypto import KeyRing, attach

            attach(self._engine, KeyRing.from_settings(self.settings))  # encrypted fields
        return self._engine

    @property
    def plugins(self) -> pluggy.PluginManager:
        """The deployment's plugin manager (built-ins, installed plugins, the `plugins:` folder),
        made once per Context. Making it runs the plugins' registration hooks, so every process
        that reads the config or runs tasks knows their field types, expression functions and
        actions. Raises PluginError when a plugin fails to load."""
        if self._plugins is None:
            from app.plugins import plugin_manager_for

            with _PLUGINS_LOCK:
                if self._plugins is None:
                    self._plugins = plugin_manager_for(self.settings)
        return self._plugins

    def yaml_meta(self, files: ConfigFiles | None = None) -> Meta:
        """The config as written in the YAML files (or in `files`, a candidate held in
        memory), with the plugins' field types, functions and actions known (raises
        ConfigErrors, or PluginError for a broken plugin)."""
        from app.meta.documents import template_dirs

        self.plugins  # noqa: B018  (registers what the plugins add before the config is read)
        with template_dirs(self.settings.document_dirs):  # documents: templates (config.yaml)
            return load_meta(self.settings.schema_dirs, self.settings.roles,
                             workflow_dirs=self.settings.workflow_dirs, files=files,
                             report_dirs=self.settings.report_dirs)

    def yaml_files(self) -> ConfigFiles:
        """The config's YAML files as they are on disk now."""
        top = self.settings.layers[-1] if self.settings.layers else None
        own = frozenset(kind for kind in ("schemas", "workflows", "reports")
                        if top is not None and getattr(top, kind) is not None)
        return ConfigFiles.from_disk(self.settings.schema_dirs, self.settings.workflow_dirs,
                                     own=own, report_dirs=self.settings.report_dirs)

    @property
    def queue(self) -> Huey:
        """This deployment's task queue (made once; `task_queue` in config.yaml)."""
        from app.tasks.queue import queue_for

        return queue_for(self)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
