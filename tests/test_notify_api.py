"""`/api/v1/notifications`: sign-in, the caller's own notifications only (404 for others' ids,
400 for ids that are not ids), paging, marking read, and the OpenAPI document's description of
it (schemathesis)."""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

from app.context import Context
from app.notify import Notice, notify
from tests.apikit import error_of, token_for
from tests.test_api_schemathesis import CHECKS
from tests.webkit import csrf, sign_in, user_id

API = "/api/v1/notifications"


def _notify(crm: Context, username: str, n: int = 1) -> list[int]:
    ids: list[int] = []
    for i in range(n):
        with crm.engine.begin() as conn:
            ids += notify(conn, crm.settings, [user_id(crm, username)],
                          Notice(kind="test.api", compose=lambda i=i: (f"S{i}", f"B{i}"),
                                 link=f"/account/{i + 1}", entity="account", record_id=i + 1))
    return ids


def test_a_caller_must_sign_in(web: Flask, crm: Context) -> None:
    client = web.test_client()
    assert client.get(API).status_code == 401
    assert client.post(f"{API}/read-all").status_code == 401
    reader = token_for(crm, "admin", scope="read")
    assert client.get(API, headers=reader).status_code == 200
    assert error_of(client.post(f"{API}/read-all", headers=reader))["status"] == 403


def test_the_list_holds_only_the_callers_notifications(web: Flask, crm: Context) -> None:
    mine = _notify(crm, "admin", 3)
    _notify(crm, "rep", 2)
    body = web.test_client().get(API, headers=token_for(crm, "admin")).get_json()
    assert [n["id"] for n in body["data"]] == mine[::-1]
    assert (body["count"], body["unread"], body["has_more"], body["next_cursor"]) == (
        3, 3, False, None)
    first = body["data"][-1]
    assert first == {"id": mine[0], "kind": "test.api", "subject": "S0", "body": "B0",
                     "link": "/account/1", "entity": "account", "record_id": 1,
                     "unread": True, "created_at": first["created_at"], "read_at": None}
    assert first["created_at"].endswith("+00:00")


def test_pages_follow_the_cursor(web: Flask, crm: Context) -> None:
    ids = _notify(crm, "admin", 5)[::-1]
    client, headers = web.test_client(), token_for(crm, "admin")
    seen: list[int] = []
    url = f"{API}?limit=2"
    while True:
        page = client.get(url, headers=headers).get_json()
        seen += [n["id"] for n in page["data"]]
        if not page["has_more"]:
            break
        url = f"{API}?limit=2&cursor={page['next_cursor']}"
    assert seen == ids


def test_reading_one_and_all(web: Flask, crm: Context) -> None:
    first, second, third = _notify(crm, "admin", 3)
    client, headers = web.test_client(), token_for(crm, "admin")
    read = client.post(f"{API}/{second}/read", headers=headers)
    assert read.status_code == 200
    assert read.get_json()["id"] == second and read.get_json()["read_at"] is not None
    again = client.post(f"{API}/{second}/read", headers=headers).get_json()
    assert again["read_at"] == read.get_json()["read_at"]  # the first reading counts
    unread = client.get(f"{API}?unread=1", headers=headers).get_json()
    assert [n["id"] for n in unread["data"]] == [third, first] and unread["count"] == 2
    done = client.post(f"{API}/read-all", headers=headers).get_json()
    assert done == {"marked": 2, "unread": 0}
    assert client.get(API, headers=headers).get_json()["unread"] == 0


def test_others_ids_are_404_and_bad_ids_400(web: Flask, crm: Context) -> None:
    theirs = _notify(crm, "rep")[0]
    client, headers = web.test_client(), token_for(crm, "admin")
    assert error_of(client.post(f"{API}/{theirs}/read", headers=headers))["status"] == 404
    assert error_of(client.post(f"{API}/99999/read", headers=headers))["status"] == 404
    for bad in ("abc", "0", "-1", "1.5", str(2**31), "²"):
        err = error_of(client.post(f"{API}/{bad}/read", headers=headers))
        assert err["status"] == 400, bad
    assert "not a notification id" in error_of(
        client.post(f"{API}/abc/read", headers=headers))["message"]
    rep = client.get(API, headers=token_for(crm, "rep")).get_json()
    assert rep["data"][0]["read_at"] is None  # untouched


def test_bad_parameters_are_400(web: Flask, crm: Context) -> None:
    client, headers = web.test_client(), token_for(crm, "admin")
    for query in ("unread=2", "limit=0", "limit=501", "limit=x", "cursor=abc", "cursor=0",
                  "page=2"):
        assert error_of(client.get(f"{API}?{query}", headers=headers))["status"] == 400, query


def test_a_browser_session_needs_the_csrf_header_to_mark_read(web: Flask, crm: Context) -> None:
    nid = _notify(crm, "admin")[0]
    client = web.test_client()
    sign_in(client)
    assert client.get(API).status_code == 200
    assert error_of(client.post(f"{API}/{nid}/read"))["status"] == 403
    token = csrf(client.get("/notifications/").text)
    assert client.post(f"{API}/{nid}/read", headers={"X-CSRFToken": token}).status_code == 200


def test_the_operations_answer_as_documented(web: Flask, crm: Context) -> None:
    _notify(crm, "admin", 3)
    headers = token_for(crm, "admin")
    doc = web.test_client().get("/api/v1/openapi.json", headers=headers).get_json()
    assert {"/notifications", "/notifications/{id}/read", "/notifications/read-all"} <= set(
        doc["paths"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web, headers=headers)
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/notifications"):
            continue
        tried += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:3000])
    assert tried == 3
    assert not failures, "\n\n".join(failures)
