"""`crm import`: a file imported with --map, --dedupe, --date-order and --as (progress, summary,
errors to CSV, exit codes), templates saved and reused, `list`, `show` and `undo`; refusals are
messages, never tracebacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from app.cli import main
from app.context import Context
from tests.importkit import csv_bytes, import_deployment, live, xlsx_bytes

HEADER = ["姓", "邮箱", "生日", "公司"]


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Context]:
    made = import_deployment(tmp_path / "crm", database_url)
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    try:
        yield made
    finally:
        made.dispose()


def crm(ctx: Context, *args: str, input: str | None = None) -> Result:
    config = ctx.settings.instance_dir.parent / "config.yaml"
    result = CliRunner().invoke(main, ["--config", str(config), *args], input=input)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_import_with_options_errors_and_undo(ctx: Context, tmp_path: Path) -> None:
    rs = live(ctx)
    acme = rs.create("account", {"name": "Acme"})["id"]
    rs.create("contact", {"last_name": "Old", "email": "old@example.com"})
    data = tmp_path / "客户.csv"
    data.write_bytes(csv_bytes([["王", "wang@example.com", "05/03/1985", "acme"],
                                ["Old", "OLD@example.com", "", ""],
                                ["李", "bad-email", "1990-01-01", "Acme"],
                                ["", "x@example.com", "", ""]], HEADER, encoding="gb18030"))
    errors = tmp_path / "errors.csv"
    done = crm(ctx, "import", str(data), "--entity", "contact", "--map", "公司=account",
               "--dedupe", "email", "--date-order", "dmy", "--errors", str(errors),
               "--save-template", "old crm", "--as", "admin")
    assert done.exit_code == 2, done.output  # some rows failed
    assert "公司 -> account" in done.stderr and "Importing 客户.csv" in done.stderr
    assert "4 rows: 1 created, 0 updated, 1 skipped, 2 failed; 1 duplicate(s)." in done.stdout
    assert "row 4, 邮箱: 'bad-email' is not an e-mail address." in done.stderr
    assert "row 5, 姓: Last name is required." in done.stderr
    assert errors.read_text(encoding="utf-8-sig").splitlines()[0] == \
        "kind,row,column,message,value"
    assert rs.recycle_bin("contact") == []
    made = next(r for r in _contacts(rs) if r["last_name"] == "王")
    assert (str(made["birthday"]), made["account"]) == ("1985-03-05", acme)

    listed = crm(ctx, "import", "list")
    assert listed.exit_code == 0 and "客户.csv" in listed.output and "(admin)" in listed.output
    shown = crm(ctx, "import", "show", "1")
    assert shown.exit_code == 0 and "1 created" in shown.output
    no = crm(ctx, "import", "undo", "1", input="n\n")
    assert no.exit_code == 1 and made["id"] in [r["id"] for r in _contacts(rs)]
    undone = crm(ctx, "import", "undo", "1", "--yes")
    assert undone.exit_code == 0 and "Undone: 1 record(s) deleted, 0 restored." in undone.output
    assert made["id"] not in [r["id"] for r in _contacts(rs)]

    again = tmp_path / "again.xlsx"
    again.write_bytes(xlsx_bytes([["赵", "zhao@example.com", "05/03/1985", "ACME"]], HEADER))
    dry = crm(ctx, "import", str(again), "--entity", "contact", "--template", "old crm",
              "--dry-run", "--as", "admin")
    assert dry.exit_code == 0, dry.output
    assert "1 rows: 1 would be created" in dry.stdout and "公司 -> account" in dry.stderr


def test_refusals_are_messages(ctx: Context, tmp_path: Path) -> None:
    data = tmp_path / "c.csv"
    data.write_bytes(csv_bytes([["王"]], ["姓"]))
    rep = crm(ctx, "import", str(data), "--entity", "contact", "--as", "rep")
    assert rep.exit_code == 2 and "You may not import Contacts." in rep.stderr
    nobody = crm(ctx, "import", str(data), "--entity", "contact", "--as", "ghost")
    assert nobody.exit_code == 1 and "no active user 'ghost'" in nobody.output
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    bad = crm(ctx, "import", str(pdf), "--entity", "contact")
    assert bad.exit_code == 2 and "not a CSV or Excel" in bad.stderr
    wrong = crm(ctx, "import", str(data), "--entity", "contact", "--map", "Nope=email")
    assert wrong.exit_code == 2 and "no column 'Nope'" in wrong.output
    unknown = crm(ctx, "import", str(data), "--entity", "nothing")
    assert unknown.exit_code == 2 and "no entity 'nothing'" in unknown.stderr
    missing = crm(ctx, "import", "show", "99")
    assert missing.exit_code == 2 and "Import #99 does not exist." in missing.stderr
    assert crm(ctx, "import", "--help").exit_code == 0


def _contacts(rs: object) -> list[dict[str, object]]:
    from tests.test_records_bulk import all_of

    return all_of(rs, "contact")
