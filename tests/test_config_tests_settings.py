"""The `config_tests` key of config.yaml: a folder per layer of the `extends:` chain, the
`config_tests` folder next to a config.yaml when it names none, CRM_CONFIG_TESTS for the top
layer."""

from __future__ import annotations

from pathlib import Path

from app.settings import load_settings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_named_folder_and_default_folder_per_layer(tmp_path: Path) -> None:
    write(tmp_path / "base" / "config.yaml", "config_tests: checks\n")
    client = write(tmp_path / "client" / "config.yaml", "extends: ../base/config.yaml\n")
    (tmp_path / "client" / "config_tests").mkdir()
    settings = load_settings(client, environ={})
    assert settings.config_test_dirs == [(tmp_path / "base" / "checks").resolve(),
                                         (tmp_path / "client" / "config_tests").resolve()]


def test_no_folder_no_layer(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config.yaml", "name: x\n")
    assert load_settings(cfg, environ={}).config_test_dirs == []


def test_the_environment_sets_the_top_layers_folder(tmp_path: Path) -> None:
    write(tmp_path / "base" / "config.yaml", "config_tests: checks\nschemas: schemas\n")
    client = write(tmp_path / "client" / "config.yaml", "extends: ../base/config.yaml\n")
    settings = load_settings(client, environ={"CRM_CONFIG_TESTS": str(tmp_path / "elsewhere")})
    assert settings.config_test_dirs == [(tmp_path / "base" / "checks").resolve(),
                                         (tmp_path / "elsewhere").resolve()]
    assert settings.schema_dirs == [(tmp_path / "base" / "schemas").resolve()]
