"""What a command or a worker needs: settings, the database engine, and the config from YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.db import make_engine
from app.meta.loader import load_meta
from app.meta.types import Meta
from app.settings import Settings, load_settings

if TYPE_CHECKING:
    from huey import Huey


@dataclass
class Context:
    settings: Settings
    _engine: sa.Engine | None = field(default=None, repr=False)

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
        return self._engine

    def yaml_meta(self) -> Meta:
        """The config as written in the YAML files (raises ConfigErrors)."""
        return load_meta(self.settings.schema_dirs, self.settings.roles,
                         workflow_dirs=self.settings.workflow_dirs)

    @property
    def queue(self) -> Huey:
        """This deployment's task queue (made once; `task_queue` in config.yaml)."""
        from app.tasks.queue import queue_for

        return queue_for(self)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
