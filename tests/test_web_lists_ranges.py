"""A list filter value beyond what its column holds (a whole number past 64 bits, a record id
past 32 bits, the last day of the calendar on a date-and-time field) is a 400 naming the
filter, not a 500 from the database."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize("query", [
    "f.employees=99999999999999999999999",
    "f.employees.gt=-99999999999999999999999",
])
def test_out_of_range_numbers_are_400(client: FlaskClient, query: str) -> None:
    resp = client.get(f"/account/?{query}")
    assert resp.status_code == 400
    assert "out of range" in resp.text


def test_a_record_id_past_32_bits_is_400(client: FlaskClient) -> None:
    assert client.get("/account/?f.owner=9999999999").status_code == 400
    assert client.get("/contact/?f.account=9999999999").status_code == 400


def test_the_last_day_on_a_datetime_field_is_400(client: FlaskClient) -> None:
    resp = client.get("/activity/?f.due_at=9999-12-31")
    assert resp.status_code == 400
    assert "out of range" in resp.text


def test_the_api_says_the_same(client: FlaskClient) -> None:
    resp = client.get("/api/v1/account?f.employees=99999999999999999999999")
    assert resp.status_code == 400
