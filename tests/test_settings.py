"""config.yaml: defaults, CRM_* overrides, CRM_CONFIG, extends chains and their errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.meta.errors import ConfigErrors
from app.settings import load_settings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_put_sqlite_in_instance(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = write(tmp_path / "config.yaml", "schemas: schemas\nroles: [sales_rep]\n")
    s = load_settings(cfg, environ={})
    with caplog.at_level(logging.WARNING):
        s.warn_if_insecure()
    assert s.database_url == f"sqlite:///{tmp_path / 'instance' / 'crm.db'}"
    assert s.roles == ("admin", "sales_rep")
    assert s.schema_dirs == [tmp_path / "schemas"]
    assert s.secret_key_generated and len(s.secret_key) == 64
    assert "CRM_SECRET_KEY is not set" in caplog.text


def test_environment_overrides_every_key(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config.yaml", "locale: en\nroles: [a]\n")
    s = load_settings(cfg, environ={
        "CRM_DATABASE_URL": "postgresql+psycopg://u@h/db", "CRM_LOCALE": "zh_CN",
        "CRM_ROLES": "[x, y]", "CRM_SECRET_KEY": "s3cret", "CRM_SCHEMAS": str(tmp_path / "o"),
    })
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert s.locale == "zh_CN" and s.roles == ("admin", "x", "y")
    assert s.secret_key == "s3cret" and not s.secret_key_generated
    assert s.schema_dirs == [tmp_path / "o"]


def test_crm_config_selects_the_file(tmp_path: Path) -> None:
    write(tmp_path / "other.yaml", "name: Other CRM\n")
    s = load_settings(None, environ={"CRM_CONFIG": str(tmp_path / "other.yaml")})
    assert s.name == "Other CRM"


def test_extends_stacks_schema_layers(tmp_path: Path) -> None:
    write(tmp_path / "base" / "config.yaml", "schemas: schemas\nroles: [sales_rep]\n")
    client = write(tmp_path / "client" / "config.yaml",
                   "extends: ../base/config.yaml\nschemas: schemas\nlocale: zh_CN\n")
    s = load_settings(client, environ={})
    assert s.schema_dirs == [tmp_path / "base" / "schemas", tmp_path / "client" / "schemas"]
    assert s.roles == ("admin", "sales_rep") and s.locale == "zh_CN"


@pytest.mark.parametrize(("text", "needle"), [
    ("extends: missing.yaml\n", "does not exist"),
    ("extends: config.yaml\n", "circle"),
    ("databse_url: x\n", "unknown key 'databse_url'"),
    ("locale: fr\n", "locale 'fr'"),
    ("secret_key: abc\n", "CRM_SECRET_KEY"),
    ("roles: [Bad Role]\n", "not a valid identifier"),
])
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    cfg = write(tmp_path / "config.yaml", text)
    with pytest.raises(ConfigErrors) as info:
        load_settings(cfg, environ={})
    assert needle in str(info.value)
    assert all(e.code.startswith("CRM-E0") for e in info.value.errors)


def test_shipped_config_schema_is_current_and_accepts_the_repo_config() -> None:
    import json

    import jsonschema
    import yaml

    from app.settings import config_schema

    root = Path(__file__).resolve().parent.parent
    shipped = json.loads((root / "app/meta/config.schema.json").read_text(encoding="utf-8"))
    assert shipped == config_schema()
    jsonschema.validate(yaml.safe_load((root / "config.yaml").read_text()), shipped)


def test_secret_key_in_an_extended_base_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "base" / "config.yaml", "secret_key: oops\n")
    client = write(tmp_path / "client" / "config.yaml", "extends: ../base/config.yaml\n")
    with pytest.raises(ConfigErrors) as info:
        load_settings(client, environ={})
    assert info.value.errors[0].source.file.endswith("base/config.yaml")
