"""`crm duplicates find | merge | dismiss`: groups printed (text and JSON), a merge with
--take values as a user, refusals as messages with exit code 2, never tracebacks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from app.cli import main
from app.context import Context
from tests.mergekit import current, deployment, make


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Context]:
    made = deployment(tmp_path / "crm", database_url)
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", "test-secret")
    try:
        yield made
    finally:
        made.dispose()


def crm(ctx: Context, *args: str) -> Result:
    config = ctx.settings.instance_dir.parent / "config.yaml"
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_find_merge_dismiss(ctx: Context) -> None:
    keep = make(ctx, "contact", "rep", last_name="Li", email="li@x.cn")
    lose = make(ctx, "contact", "rep", last_name="Li", email="LI@x.cn", title="CTO")
    call = make(ctx, "activity", subject="Call", related_contact=lose["id"])
    found = crm(ctx, "duplicates", "find", "--entity", "contact")
    assert found.exit_code == 0, found.output
    assert f"#{keep['id']}  Li" in found.output and "1 group(s)." in found.output
    data = json.loads(crm(ctx, "duplicates", "find", "--entity", "contact", "--rule",
                          "contact_email", "--json").output)
    assert data == [{"rule": "contact_email", "key": ["li@x.cn"],
                     "ids": [keep["id"], lose["id"]]}]

    done = crm(ctx, "duplicates", "merge", "--entity", "contact", "--survivor",
               str(keep["id"]), "--loser", str(lose["id"]), "--take", f"email={lose['id']}",
               "--as", "manager")
    assert done.exit_code == 0, done.output
    assert f"Merged #{lose['id']} into contact #{keep['id']}" in done.output
    assert "email from" in done.output and "1 activity" in done.output
    assert current(ctx, "contact", keep["id"])["email"] == "LI@x.cn"
    assert current(ctx, "activity", call["id"])["related_contact"] == keep["id"]
    assert crm(ctx, "duplicates", "find", "--entity", "contact").output.strip() \
        == "No duplicates found."

    a, b = (make(ctx, "account", name=n) for n in ("Acme", "ACME Ltd"))
    out = crm(ctx, "duplicates", "dismiss", "--entity", "account", str(a["id"]), str(b["id"]),
              "--as", "admin")
    assert out.exit_code == 0 and "1 new pair" in out.output


def test_refusals(ctx: Context) -> None:
    keep = make(ctx, "contact", last_name="Li")
    lose = make(ctx, "contact", last_name="Li")
    base = ["duplicates", "merge", "--entity", "contact", "--survivor", str(keep["id"]),
            "--loser", str(lose["id"])]
    rep = crm(ctx, *base, "--as", "rep")
    assert rep.exit_code == 2 and "Refused: You may not merge" in rep.output
    ghost = crm(ctx, *base, "--as", "ghost")
    assert ghost.exit_code == 1 and "no active user 'ghost'" in ghost.output
    bad = crm(ctx, *base, "--take", "email", "--as", "admin")
    assert bad.exit_code == 2 and "FIELD=RECORD_ID" in bad.output
    wrong = crm(ctx, *base, "--take", "nope=1", "--as", "admin")
    assert wrong.exit_code == 2 and "nope: There is no field 'nope'." in wrong.output
    assert crm(ctx, "duplicates", "find", "--entity", "contact", "--rule", "x").exit_code == 2
    assert crm(ctx, "duplicates", "find", "--entity", "nothing").exit_code == 2
    assert current(ctx, "contact", lose["id"])["deleted_at"] is None
