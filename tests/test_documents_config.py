"""`documents:` in workflows/*.yaml (app/meta/documents.py): entries are checked against the
entities and the templates of the documents folder (CRM-E127..E131 with file:line; a template
syntax error names the template's own line), and a config version holds the template's text
and the files it mentions, so changing a template changes the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.context import Context
from app.meta.documents import DocumentDef
from app.meta.errors import ConfigError, ConfigErrors
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta
from app.settings import load_settings
from tests.factories import ROLES, small_pack

GOOD = """documents:
  account_sheet:
    entity: account
    label: {en: Account sheet, zh: 客户资料}
    template: sheet.html
    filename: "{name}-sheet.pdf"
    when: "employees > 10"
    lines: {entity: contact, via: account, order: last_name}
"""
SHEET = """<html><head><link rel="stylesheet" href="sheet.css"></head>
<body><h1>{{ record.name }}</h1>{% include "part.html" %}</body></html>
"""


def _folder(tmp_path: Path, workflows: str = GOOD, templates: dict[str, str | bytes] | None = None
            ) -> Path:
    small_pack(tmp_path / "schemas")
    (tmp_path / "workflows").mkdir(exist_ok=True)
    (tmp_path / "workflows" / "documents.yaml").write_text(workflows, encoding="utf-8")
    docs = tmp_path / "documents"
    docs.mkdir(exist_ok=True)
    files = {"sheet.html": SHEET, "part.html": "<p>{{ lines | length }} contacts</p>",
             "sheet.css": "h1 { color: red }", "unused.css": "p {}"} \
        if templates is None else templates
    for name, body in files.items():
        if isinstance(body, bytes):
            (docs / name).write_bytes(body)
        else:
            (docs / name).write_text(body, encoding="utf-8")
    return tmp_path


def _load(root: Path) -> Meta:
    return load_meta([root / "schemas"], ROLES, workflow_dirs=[root / "workflows"])


def _errors(root: Path) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as info:
        _load(root)
    return list(info.value.errors)


def test_an_entry_lands_on_meta_with_its_template_and_the_files_it_names(tmp_path: Path
                                                                         ) -> None:
    meta = _load(_folder(tmp_path))
    d = meta.feature("documents")["account_sheet"]
    assert isinstance(d, DocumentDef)
    assert (d.entity, d.template, d.filename, d.when) == (
        "account", "sheet.html", "{name}-sheet.pdf", "employees > 10")
    assert d.lines is not None and (d.lines.entity, d.lines.via, d.lines.order) == (
        "contact", "account", "last_name")
    assert set(d.files) == {"sheet.html", "part.html", "sheet.css"}  # not unused.css
    assert d.files["sheet.html"] == SHEET
    assert "documents.yaml:2" in str(d.source)


def test_the_config_version_holds_the_templates_and_a_change_is_a_new_digest(
        tmp_path: Path) -> None:
    root = _folder(tmp_path)
    meta = _load(root)
    again = meta_from_dict(meta_to_dict(meta))
    d = again.feature("documents")["account_sheet"]
    assert d.files["part.html"] == "<p>{{ lines | length }} contacts</p>"
    assert d.lines is not None and d.lines.via == "account"
    assert again.digest == meta.digest
    (root / "documents" / "part.html").write_text("<p>changed</p>", encoding="utf-8")
    changed = _load(root).digest
    assert changed != meta.digest
    (root / "documents" / "unused.css").write_text("p { color: blue }", encoding="utf-8")
    assert _load(root).digest == changed  # a file no template names is not held


def test_images_are_kept_as_data_uris(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 20
    root = _folder(tmp_path, templates={
        "sheet.html": '<img src="logo.png">{{ record.name }}', "logo.png": png})
    d = _load(root).feature("documents")["account_sheet"]
    assert d.files["logo.png"].startswith("data:image/png;base64,")


def test_a_missing_template_is_named_with_the_folders_looked_in(tmp_path: Path) -> None:
    root = _folder(tmp_path, GOOD.replace("sheet.html", "nope.html"))
    errors = _errors(root)
    assert [e.code for e in errors] == ["CRM-E128"]
    assert "documents.yaml:5" in str(errors[0].source)
    assert "nope.html" in errors[0].message and "documents" in errors[0].message


def test_a_template_name_with_a_folder_is_refused(tmp_path: Path) -> None:
    errors = _errors(_folder(tmp_path, GOOD.replace("sheet.html", "../secret.html")))
    assert [e.code for e in errors] == ["CRM-E128"]


def test_a_template_syntax_error_names_the_template_file_and_line(tmp_path: Path) -> None:
    root = _folder(tmp_path, templates={
        "sheet.html": "<h1>{{ record.name }}</h1>\n{% include 'part.html' %}\n",
        "part.html": "<p>one</p>\n<p>two</p>\n{% for x in lines %}\n<p>{{ x.name }</p>\n"})
    errors = _errors(root)
    assert [e.code for e in errors] == ["CRM-E129"]
    assert str(errors[0].source).endswith("part.html:4:1"), errors[0].source
    assert "does not compile" in errors[0].message


def test_unknown_entities_fields_and_bad_when_are_located(tmp_path: Path) -> None:
    bad = """documents:
  one:
    entity: acount
    template: sheet.html
  two:
    entity: account
    template: sheet.html
    when: "employes > 10"
    lines: {entity: contact, via: last_name, order: nope}
    filename: "{nam}.pdf"
  three:
    entity: account
    template: sheet.html
    lines: {entity: contct, via: account}
    currency: industri
"""
    errors = _errors(_folder(tmp_path, bad))
    found = sorted((e.code, e.source.line) for e in errors)
    assert found == [("CRM-E127", 3), ("CRM-E127", 14), ("CRM-E130", 8), ("CRM-E131", 9),
                     ("CRM-E131", 9), ("CRM-E131", 10), ("CRM-E131", 15)]
    text = " ".join(e.message for e in errors)
    assert "did you mean 'account'" in text and "contact.last_name is not a lookup to account" \
        in text


def test_the_schema_refuses_unknown_keys(tmp_path: Path) -> None:
    errors = _errors(_folder(tmp_path, GOOD + "    colour: red\n"))
    assert [e.code for e in errors] == ["CRM-E011"]
    assert "colour" in errors[0].message


def test_config_yaml_names_the_folder_and_an_overlay_template_wins(tmp_path: Path) -> None:
    base = _folder(tmp_path / "base")
    (base / "config.yaml").write_text(
        f"schemas: schemas\nworkflows: workflows\nroles: [{', '.join(ROLES)}]\n",
        encoding="utf-8")
    client = tmp_path / "client"
    (client / "layouts").mkdir(parents=True)
    (client / "layouts" / "part.html").write_text("<p>the client's</p>", encoding="utf-8")
    (client / "config.yaml").write_text(
        "extends: ../base/config.yaml\ndocuments: layouts\n"
        "company: {name: 客户公司, phone: '+86 21 1234'}\n", encoding="utf-8")
    settings = load_settings(client / "config.yaml", environ={"CRM_SECRET_KEY": "k"})
    assert settings.document_dirs == [(base / "documents").resolve(),
                                      (client / "layouts").resolve()]
    assert settings.company == {"name": "客户公司", "phone": "+86 21 1234"}
    meta = Context(settings).yaml_meta()
    d = meta.feature("documents")["account_sheet"]
    assert d.files["part.html"] == "<p>the client's</p>"
    assert d.files["sheet.html"] == SHEET


def test_company_must_be_a_mapping_of_texts(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("company: [a, b]\n", encoding="utf-8")
    with pytest.raises(ConfigErrors) as info:
        load_settings(tmp_path / "config.yaml", environ={})
    assert "company must be a mapping" in str(info.value)


def test_the_shipped_quote_pdf_loads_with_the_default_pack(tmp_path: Path) -> None:
    """workflows/documents.yaml copied where no documents/ folder is: the templates shipped
    with the CRM are found after the config's own folders."""
    from tests.webkit import ROOT

    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "documents.yaml").write_text(
        (ROOT / "workflows" / "documents.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    meta = load_meta([ROOT / "schemas"], ROLES, workflow_dirs=[tmp_path / "workflows"])
    d = meta.feature("documents")["quote_pdf"]
    assert d.entity == "quote" and d.lines is not None and d.currency == "currency"
    assert "报价单" in d.files["quote.html"]
