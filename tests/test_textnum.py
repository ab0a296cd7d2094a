"""Whole numbers from requests: "²", 5,000 digits or a value beyond an SQL integer are refused
(None), never a crash; and the pages and API that read them answer 4xx."""

from __future__ import annotations

from typing import Any

import pytest

from app.textnum import SQL_INT_MAX, small_int
from tests.apikit import token_for
from tests.webkit import sign_in, web_app


@pytest.mark.parametrize(("value", "expected"), [
    ("42", 42), (" 7 ", 7), (0, 0), ("0", 0), (str(SQL_INT_MAX), SQL_INT_MAX),
    (str(SQL_INT_MAX + 1), None), ("²", None), ("١٢", None), ("-3", None), ("1.5", None),
    ("9" * 5000, None), ("", None), (None, None), (True, None), (-1, None), (3.0, None),
])
def test_small_int(value: Any, expected: int | None) -> None:
    assert small_int(value) == expected


def test_small_int_limit() -> None:
    assert small_int("500", 500) == 500 and small_int("501", 500) is None


def test_odd_digits_are_4xx_everywhere(crm: Any) -> None:
    app = web_app(crm)
    c = app.test_client()
    h = token_for(crm)
    assert c.get("/api/v1/account?limit=%C2%B2", headers=h).status_code == 400
    assert c.get("/api/v1/account?limit=" + "9" * 5000, headers=h).status_code == 400
    made = c.post("/api/v1/account", json={"name": "A"}, headers=h).get_json()
    assert c.patch(f"/api/v1/account/{made['id']}", json={},
                   headers={**h, "If-Match": '"²"'}).status_code == 400
    assert c.patch(f"/api/v1/account/{made['id']}", json={},
                   headers={**h, "If-Match": '"' + "9" * 5000 + '"'}).status_code == 400
    sign_in(c)
    assert c.get("/account/?size=%C2%B2").status_code == 400
    assert c.get("/account/?size=" + "9" * 5000).status_code == 400
    assert c.get("/lookup/account?limit=%C2%B2").status_code in (200, 400)
    assert c.get("/contact/?f.account.eq=" + "9" * 30).status_code in (200, 400)
