"""Columns -> fields: names compared without case, spaces, _ - and full-width forms, matched
to field names and labels in English and Chinese; the fields a user may import into; mapping
checks with clear messages; templates saved and reused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.imports import ImportOptions, SetupProblem, configure, upload
from app.imports import mapping as m
from tests.importkit import (
    EXPECTED_MAPPING,
    HEADERS,
    admin,
    csv_bytes,
    import_deployment,
    live,
    rep,
    store,
)


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = import_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def test_norm() -> None:
    assert m.norm("E-mail") == m.norm("email") == m.norm(" E_MAIL ") == "email"
    assert m.norm("Ｍｏｂｉｌｅ") == "mobile"
    assert m.norm("出生 日期（年）") == "出生日期年"


def test_auto_match_by_name_and_labels_in_both_languages(ctx: Context) -> None:
    who = admin(ctx)
    found = m.targets(live(ctx, who), "contact", who)
    assert m.auto_match(HEADERS, found) == EXPECTED_MAPPING
    got = m.auto_match(["LAST NAME", "邮箱", "account_id", "Account", "负责人", "Mailing City",
                        "Email Opt-out", "不存在"], found)
    assert got == {"LAST NAME": "last_name", "邮箱": "email", "account_id": "account",
                   "Account": None,  # the first column took it
                   "负责人": "owner", "Mailing City": "mailing_city",
                   "Email Opt-out": "email_opt_out", "不存在": None}


def test_targets_follow_the_users_access(ctx: Context) -> None:
    who = admin(ctx)
    everything = m.targets(live(ctx, who), "contact", who)
    assert {"id_number", "owner", "account", "last_name"} <= set(everything)
    assert "full_name" not in everything  # a formula
    assert everything["account"].key_choices[0] == "name"
    assert everything["account"].key_choices[-1] == "id"
    assert everything["reports_to"].key_choices[:1] == ("full_name",)  # the title, a formula
    seller = rep(ctx)
    theirs = m.targets(live(ctx, seller), "contact", seller)
    assert "id_number" not in theirs  # hidden from sales reps


def test_resolve_refuses_what_cannot_work(ctx: Context) -> None:
    who = admin(ctx)
    found = m.targets(live(ctx, who), "contact", who)
    columns = ["a", "b"]
    with pytest.raises(SetupProblem, match="no column 'c'"):
        m.resolve(columns, {"c": "email"}, found)
    with pytest.raises(SetupProblem, match="there is no field 'full_name'"):
        m.resolve(columns, {"a": "full_name"}, found)
    with pytest.raises(SetupProblem, match="Columns 'a' and 'b' both go to Email"):
        m.resolve(columns, {"a": "email", "b": "email"}, found)
    with pytest.raises(SetupProblem, match="No column goes to a field"):
        m.resolve(columns, {"a": None, "b": ""}, found)
    got = m.resolve(columns, {"b": "email", "a": "last_name"}, found)
    assert [(c.index, c.name, c.target.name) for c in got] == [(0, "a", "last_name"),
                                                                (1, "b", "email")]
    with pytest.raises(SetupProblem, match="no column goes to it"):
        ImportOptions(dedupe=("mobile",)).check(found, {"email"})
    with pytest.raises(SetupProblem, match="cannot be used to find duplicates"):
        ImportOptions(dedupe=("id_number",)).check(found, {"id_number"})


def test_templates_are_saved_and_reused(ctx: Context) -> None:
    who = admin(ctx)
    rs = live(ctx, who)
    files = store(ctx)
    job = upload(rs, files, who, "contact", "a.csv", csv_bytes([["王", "x@y.cn"]], ["L", "E"]))
    assert job.fields == {"L": None, "E": None}
    options = ImportOptions(date_order="dmy", dedupe=("email",), on_duplicate="update")
    configure(rs, files, who, job.id, {"L": "last_name", "E": "email"}, options)
    with ctx.engine.begin() as conn:
        m.save_template(conn, "  Old CRM ", "contact", {"L": "last_name", "E": "email"},
                        options, who.id)
        m.save_template(conn, "Old CRM", "contact", {"L": "last_name", "E": "email",
                                                     "Z": "title"}, options, who.id)
        saved = m.templates(conn, "contact", who.id)
        assert [t["name"] for t in saved] == ["Old CRM"]  # saved again under the same name
        assert m.templates(conn, "contact", None) == []
        template = m.load_template(conn, "contact", "Old CRM", who.id)
        with pytest.raises(SetupProblem, match="no import template 'Nope'"):
            m.load_template(conn, "contact", "Nope", who.id)
    assert template["options"]["dedupe"] == ["email"]
    again = upload(rs, files, who, "contact", "b.csv",
                   csv_bytes([["李", "a@b.cn", "1"]], ["L", "E", "Mobile"]), template=template)
    assert again.fields == {"L": "last_name", "E": "email", "Mobile": "mobile"}
    assert again.options_obj.on_duplicate == "update" and again.options_obj.date_order == "dmy"


def test_missing_required(ctx: Context) -> None:
    rs = live(ctx, admin(ctx))
    assert m.missing_required(rs, "contact", ["email"]) == ["Last name"]
    assert m.missing_required(rs, "contact", ["last_name"]) == []


def test_another_header_row_reads_the_columns_again(ctx: Context) -> None:
    who = admin(ctx)
    rs = live(ctx, who)
    files = store(ctx)
    data = "客户名单 2024,,\n姓,邮箱,Title\n王,w@example.cn,经理\n".encode()
    job = upload(rs, files, who, "contact", "t.csv", data)
    assert job.columns == ["客户名单 2024"] and job.total == 2
    again = configure(rs, files, who, job.id, {"客户名单 2024": "title"},
                      ImportOptions.from_json({**job.options, "header_row": 2}))
    assert again.columns == ["姓", "邮箱", "Title"] and again.total == 1
    assert again.fields == {"姓": "last_name", "邮箱": "email", "Title": "title"}
    assert again.samples == [["王", "w@example.cn", "经理"]]
