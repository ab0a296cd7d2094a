"""What a command or a worker needs: settings, the database engine, and the config from YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from app.db import make_engine
from app.meta.loader import load_meta
from app.meta.types import Meta
from app.settings import Settings, load_settings


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
        return load_meta(self.settings.schema_dirs, self.settings.roles)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
