"""person_name(first, last): a person's name as its language writes it ("王飞": family name
first, no space, for Chinese, Japanese and Korean names; "Wendy Howard" otherwise), the same in
Python and in the database (SQLite, or PostgreSQL with CRM_TEST_DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from app.expr import ExprError, parse

NAMES: list[tuple[str | None, str | None, str | None]] = [
    ("飞", "王", "王飞"),
    ("建国", "欧阳", "欧阳建国"),
    ("Wendy", "Howard", "Wendy Howard"),
    (None, "王", "王"),
    ("飞", None, "飞"),
    (None, "Smith", "Smith"),
    ("Anna", None, "Anna"),
    (None, None, None),
    ("", "", None),
    (" 建国 ", " 张", "张建国"),
    ("  Jo ", " Lee  ", "Jo Lee"),
    ("민준", "김", "김민준"),
    ("太郎", "山田", "山田太郎"),
    ("Wei", "王", "王Wei"),  # the family name's script decides
]


@pytest.fixture
def table(engine: sa.Engine) -> Iterator[tuple[sa.Engine, sa.Table]]:
    metadata = sa.MetaData()
    names = sa.Table("names_t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("first", sa.String(80)), sa.Column("last", sa.String(80)))
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(names.insert(), [{"id": i, "first": f, "last": last}
                                      for i, (f, last, _) in enumerate(NAMES)])
    yield engine, names


def test_python_and_sql_write_names_alike(table: Any) -> None:
    engine, names = table
    expr = parse("person_name(first, last)", ["first", "last"])
    with engine.connect() as conn:
        got = conn.execute(sa.select(expr.to_sql({"first": names.c.first, "last": names.c.last}))
                           .order_by(names.c.id)).scalars().all()
    wanted = [w for _, _, w in NAMES]
    assert [expr.evaluate({"first": f, "last": last}) for f, last, _ in NAMES] == wanted
    assert list(got) == wanted


def test_person_name_takes_two_texts() -> None:
    with pytest.raises(ExprError, match="argument 1 must be"):
        parse("person_name(1, last)", {"last": "text"})
    with pytest.raises(ExprError):
        parse("person_name(last)", {"last": "text"})
