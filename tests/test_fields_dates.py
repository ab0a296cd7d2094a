"""Date and time field types: date, datetime, time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import marshmallow
import pytest
from factories_meta import api_dump, api_load, bind, check, create_sql, make_field, table_for
from jsonschema import Draft202012Validator

from app.fields import FieldValueError, registry

CST = timezone(timedelta(hours=8))
ORDERED = ("eq", "ne", "lt", "lte", "gt", "gte", "between", "empty", "not_empty")


@pytest.mark.parametrize("name", ["date", "datetime", "time"])
def test_options_schema_is_valid_json_schema(name: str) -> None:
    schema = {"type": "object", "properties": dict(registry.get(name).options_schema)}
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("date", date(2024, 3, 5), date(2024, 3, 5)),
        ("date", "2024-03-05", date(2024, 3, 5)),
        ("date", " 2024-03-05 ", date(2024, 3, 5)),
        ("date", None, None),
        ("datetime", datetime(2024, 3, 5, 14, 30), datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        (
            "datetime",
            datetime(2024, 3, 5, 22, 30, tzinfo=CST),
            datetime(2024, 3, 5, 14, 30, tzinfo=UTC),
        ),
        ("datetime", "2024-03-05T14:30:00Z", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("datetime", "2024-03-05T22:30:00+08:00", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("datetime", "2024-03-05 14:30", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("datetime", date(2024, 3, 5), datetime(2024, 3, 5, tzinfo=UTC)),
        ("time", time(9, 15), time(9, 15)),
        ("time", "09:15", time(9, 15)),
        ("time", "09:15:30", time(9, 15, 30)),
    ],
)
def test_to_python_accepts(type_: str, value: Any, expected: Any) -> None:
    got = registry.get(type_).to_python(make_field("x", type_), value)
    assert got == expected
    if isinstance(expected, datetime):
        assert got.tzinfo is UTC


@pytest.mark.parametrize(
    ("type_", "value", "message"),
    [
        (
            "date",
            datetime(2024, 3, 5, 14, 30),
            "'2024-03-05 14:30:00' has a time of day; a date is expected.",
        ),
        ("date", "2024-02-30", "'2024-02-30' is not a date (use YYYY-MM-DD)."),
        ("date", "yesterday", "'yesterday' is not a date (use YYYY-MM-DD)."),
        ("date", 20240305, "'20240305' is not a date (use YYYY-MM-DD)."),
        ("datetime", "soon", "'soon' is not a date and time (use YYYY-MM-DD HH:MM)."),
        ("datetime", 1709649000, "'1709649000' is not a date and time (use YYYY-MM-DD HH:MM)."),
        ("time", "25:00", "'25:00' is not a time (use HH:MM)."),
        ("time", datetime(2024, 3, 5, 9), "'2024-03-05 09:00:00' is not a time (use HH:MM)."),
    ],
)
def test_to_python_refuses(type_: str, value: Any, message: str) -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get(type_).to_python(make_field("x", type_), value)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024/3/5", date(2024, 3, 5)),
        ("2024.3.5", date(2024, 3, 5)),
        ("2024-3-5", date(2024, 3, 5)),
        ("2024年3月5日", date(2024, 3, 5)),
        ("2024年03月05日", date(2024, 3, 5)),
        ("2024 年 3 月 5 日", date(2024, 3, 5)),
        ("２０２４年３月５日", date(2024, 3, 5)),
        ("2024年3月5号", date(2024, 3, 5)),
        ("20240305", date(2024, 3, 5)),
        ("15/3/2024", date(2024, 3, 15)),  # only d/m/Y makes sense
        ("3/15/2024", date(2024, 3, 15)),  # only m/d/Y makes sense
        ("3/3/2024", date(2024, 3, 3)),  # both readings agree
        ("5 Mar 2024", date(2024, 3, 5)),
        ("5 March 2024", date(2024, 3, 5)),
        ("March 5, 2024", date(2024, 3, 5)),
        ("Mar 5 2024", date(2024, 3, 5)),
        ("  ", None),
    ],
)
def test_parse_date_text(raw: str, expected: date | None) -> None:
    assert registry.get("date").parse_text(make_field("x", "date"), raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("5/3/2024", "'5/3/2024' could be 2024-05-03 or 2024-03-05: write it as YYYY-MM-DD."),
        ("13/13/2024", "'13/13/2024' is not a date on the calendar."),
        ("2024-02-30", "'2024-02-30' is not a date on the calendar."),
        ("2024年13月1日", "'2024年13月1日' is not a date on the calendar."),
        ("next friday", "'next friday' is not a date (use YYYY-MM-DD)."),
        ("2024-03-05 14:30", "'2024-03-05 14:30' is not a date (use YYYY-MM-DD)."),
    ],
)
def test_parse_date_text_refuses(raw: str, message: str) -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get("date").parse_text(make_field("x", "date"), raw)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-05 14:30", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("2024-03-05T14:30:15", datetime(2024, 3, 5, 14, 30, 15, tzinfo=UTC)),
        ("2024-03-05T22:30+08:00", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("2024/3/5 14:30", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("2024年3月5日 14:30", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("2024年3月5日14:30", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("2024年3月5日 14时30分", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("2024年3月5日 下午2:30", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("2024年3月5日 14：30", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("3/15/2024 2:30 PM", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        ("March 5, 2024 09:00", datetime(2024, 3, 5, 9, 0, tzinfo=UTC)),
        ("2024年3月5日", datetime(2024, 3, 5, tzinfo=UTC)),
        ("", None),
    ],
)
def test_parse_datetime_text(raw: str, expected: datetime | None) -> None:
    assert registry.get("datetime").parse_text(make_field("x", "datetime"), raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2024-03-05 25:00", "'2024-03-05 25:00' is not a date and time (use YYYY-MM-DD HH:MM)."),
        ("tomorrow 10:00", "'tomorrow 10:00' is not a date and time (use YYYY-MM-DD HH:MM)."),
        ("5/3/2024 10:00", "'5/3/2024' could be 2024-05-03 or 2024-03-05: write it as YYYY-MM-DD."),
    ],
)
def test_parse_datetime_text_refuses(raw: str, message: str) -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get("datetime").parse_text(make_field("x", "datetime"), raw)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("14:30", time(14, 30)),
        ("9:05", time(9, 5)),
        ("09:05:07", time(9, 5, 7)),
        ("2:30 pm", time(14, 30)),
        ("12:00 AM", time(0, 0)),
        ("12:15 PM", time(12, 15)),
        ("14时30分", time(14, 30)),
        ("下午2点30分", time(14, 30)),
        ("上午9:00", time(9, 0)),
        ("１４：３０", time(14, 30)),
    ],
)
def test_parse_time_text(raw: str, expected: time) -> None:
    assert registry.get("time").parse_text(make_field("x", "time"), raw) == expected


@pytest.mark.parametrize("raw", ["24:00", "13:00 PM", "noon", "14:3"])
def test_parse_time_text_refuses(raw: str) -> None:
    with pytest.raises(FieldValueError) as exc:
        registry.get("time").parse_text(make_field("x", "time"), raw)
    assert str(exc.value) == f"'{raw}' is not a time (use HH:MM)."


@pytest.mark.parametrize(
    ("type_", "kw", "value", "problems"),
    [
        ("date", {"min": "2024-01-01"}, date(2024, 1, 1), []),
        (
            "date",
            {"min": "2024-01-01"},
            date(2023, 12, 31),
            ["The date must be on or after 2024-01-01."],
        ),
        (
            "date",
            {"max": "2024-12-31"},
            date(2025, 1, 1),
            ["The date must be on or before 2024-12-31."],
        ),
        (
            "datetime",
            {"min": "2024-01-01T09:00"},
            datetime(2024, 1, 1, 8, tzinfo=UTC),
            ["The date and time must be on or after 2024-01-01 09:00."],
        ),
        ("datetime", {"max": "2024-01-01"}, datetime(2023, 12, 31, 23, tzinfo=UTC), []),
        (
            "time",
            {"min": "09:00", "max": "18:00"},
            time(8, 59),
            ["The time must be on or after 09:00."],
        ),
        ("time", {"min": "09:00", "max": "18:00"}, time(18, 0), []),
        ("date", {"min": "not a date"}, date(2024, 1, 1), []),  # check() reports the bound
        ("date", {}, None, []),
    ],
)
def test_validate(type_: str, kw: dict[str, Any], value: Any, problems: list[str]) -> None:
    assert registry.get(type_).validate(make_field("x", type_, **kw), value) == problems


@pytest.mark.parametrize(
    ("type_", "value", "locale", "shown"),
    [
        ("date", date(2024, 3, 5), "en", "2024-03-05"),
        ("date", date(2024, 3, 5), "zh", "2024年3月5日"),
        ("date", date(2024, 3, 5), "zh_CN", "2024年3月5日"),
        ("date", None, "en", ""),
        ("datetime", datetime(2024, 3, 5, 14, 30, tzinfo=UTC), "en", "2024-03-05 14:30"),
        ("datetime", datetime(2024, 3, 5, 14, 30, 5, tzinfo=UTC), "en", "2024-03-05 14:30:05"),
        ("datetime", datetime(2024, 3, 5, 14, 30, tzinfo=UTC), "zh", "2024年3月5日 14:30"),
        ("time", time(9, 5), "en", "09:05"),
        ("time", time(9, 5, 1), "zh", "09:05:01"),
    ],
)
def test_display(type_: str, value: Any, locale: str, shown: str) -> None:
    assert registry.get(type_).display(make_field("x", type_), value, locale) == shown


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("date", date(2024, 3, 5), "2024-03-05"),
        ("datetime", datetime(2024, 3, 5, 14, 30, tzinfo=UTC), "2024-03-05T14:30:00+00:00"),
        ("time", time(9, 5), "09:05:00"),
        ("date", None, None),
    ],
)
def test_to_json(type_: str, value: Any, expected: Any) -> None:
    assert registry.get(type_).to_json(make_field("x", type_), value) == expected


@pytest.mark.parametrize(
    ("type_", "kw", "codes"),
    [
        ("date", {"min": "2024-01-01", "max": "2024-12-31"}, []),
        ("date", {"min": "2024-12-31", "max": "2024-01-01"}, ["CRM-E027"]),
        ("date", {"min": "31/12/2024"}, ["CRM-E027"]),
        ("datetime", {"min": "2024-01-02", "max": "2024-01-01T23:00"}, ["CRM-E027"]),
        ("time", {"min": "18:00", "max": "09:00"}, ["CRM-E027"]),
        ("time", {"min": "09:00", "max": "18:00"}, []),
    ],
)
def test_check(type_: str, kw: dict[str, Any], codes: list[str]) -> None:
    assert [p[0] for p in check(make_field("x", type_, **kw))] == codes


def test_check_message_for_a_bad_bound() -> None:
    [(_, message, option)] = check(make_field("close", "date", min="31/12/2024"))
    assert message == "field 'close' has min '31/12/2024', which is not a valid date"
    assert option == "min"


@pytest.mark.parametrize(
    ("type_", "sqlite_sql", "pg_sql"),
    [
        ("date", "x DATE", "x DATE"),
        ("datetime", "x DATETIME", "x TIMESTAMP WITH TIME ZONE"),
        ("time", "x TIME", "x TIME WITHOUT TIME ZONE"),
    ],
)
def test_column(type_: str, sqlite_sql: str, pg_sql: str) -> None:
    table = table_for(make_field("x", type_))
    assert sqlite_sql in create_sql(table, "sqlite")
    assert pg_sql in create_sql(table, "postgresql")


@pytest.mark.parametrize(
    ("type_", "widget", "raw", "data"),
    [
        ("date", "DateField", "2024-03-05", date(2024, 3, 5)),
        ("datetime", "DateTimeLocalField", "2024-03-05T14:30", datetime(2024, 3, 5, 14, 30)),
        ("time", "TimeField", "14:30", time(14, 30)),
    ],
)
def test_form_field(type_: str, widget: str, raw: str, data: Any) -> None:
    form = bind(make_field("x", type_, required=True), [("x", raw)])
    assert type(form.x).__name__ == widget
    assert form.validate()
    assert form.x.data == data
    empty = bind(make_field("x", type_, required=True), [("x", "")])
    assert not empty.validate()


@pytest.mark.parametrize(
    ("type_", "payload", "loaded", "dumped"),
    [
        ("date", "2024-03-05", date(2024, 3, 5), "2024-03-05"),
        (
            "datetime",
            "2024-03-05T14:30:00",
            datetime(2024, 3, 5, 14, 30, tzinfo=UTC),
            "2024-03-05T14:30:00+00:00",
        ),
        (
            "datetime",
            "2024-03-05T22:30:00+08:00",
            datetime(2024, 3, 5, 22, 30, tzinfo=CST),
            "2024-03-05T22:30:00+08:00",
        ),
        ("time", "14:30", time(14, 30), "14:30:00"),
    ],
)
def test_api_field_round_trip(type_: str, payload: str, loaded: Any, dumped: str) -> None:
    f = make_field("x", type_)
    assert api_load(f, {"x": payload}) == {"x": loaded}
    assert api_dump(f, loaded) == {"x": dumped}


@pytest.mark.parametrize(
    ("type_", "error"), [("date", "Not a valid date."), ("time", "Not a valid time.")]
)
def test_api_field_refuses(type_: str, error: str) -> None:
    with pytest.raises(marshmallow.ValidationError) as exc:
        api_load(make_field("x", type_), {"x": "someday"})
    assert exc.value.messages == {"x": [error]}


@pytest.mark.parametrize("type_", ["date", "datetime", "time"])
def test_filter_ops_and_kind(type_: str) -> None:
    ft = registry.get(type_)
    assert ft.filter_ops == ORDERED
    assert ft.expr_kind == type_


def test_datetime_form_field_renders_what_the_browser_reads() -> None:
    """`<input type=datetime-local>` wants `YYYY-MM-DDTHH:MM`; seconds and a space are
    accepted on input."""
    form = bind(make_field("x", "datetime"))
    form.x.data = datetime(2030, 1, 31, 9, 45)
    assert form.x._value() == "2030-01-31T09:45"
    assert 'type="datetime-local"' in form.x()
    typed = bind(make_field("x", "datetime"), [("x", "2030-01-31 09:45:30")])
    assert typed.validate() and typed.x.data == datetime(2030, 1, 31, 9, 45, 30)
