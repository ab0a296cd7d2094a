"""Stage machines on the pages: the form's stage select offers only the allowed moves, board
cards carry the columns they may go to, and a refused drop comes back with the reason."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from app.records import SYSTEM
from tests.stageskit import actor, deal, records
from tests.webkit import csrf, post_form, sign_in, web_app


@pytest.fixture
def ctx(workflow_crm: Context) -> Context:
    return workflow_crm


@pytest.fixture
def web(ctx: Context) -> Flask:
    return web_app(ctx)


def _client(web: Flask, username: str, password: str | None = None) -> FlaskClient:
    client = web.test_client()
    sign_in(client, username, password)
    return client


def _options(html: str, select_id: str = "f-stage") -> list[tuple[str, bool]]:
    """(value, disabled) of each option of a select."""
    body = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert body, f"no select #{select_id}"
    return [(unescape(m.group(1)), "disabled" in m.group(0))
            for m in re.finditer(r'<option[^>]*value="([^"]*)"[^>]*>', body.group(1))]


def _walk(ctx: Context, rid: int, *stages: str) -> None:
    for stage in stages:
        records(ctx).update("opportunity", rid, {"stage": stage}, SYSTEM)


def test_a_new_record_may_start_only_in_an_initial_stage(web: Flask) -> None:
    html = _client(web, "rep").get("/opportunity/new").text
    assert [v for v, _d in _options(html)] == ["", "prospecting", "qualification"]


def test_the_edit_form_offers_the_moves_and_the_current_stage(web: Flask, ctx: Context) -> None:
    d = deal(ctx, actor(ctx, "rep", "sales_rep"), stage="qualification")
    html = _client(web, "rep").get(f"/opportunity/{d['id']}/edit").text
    assert [v for v, _d in _options(html)] == ["qualification", "needs_analysis", "proposal",
                                               "lost"]


def test_a_refused_move_in_the_form_is_shown_beside_the_field(web: Flask, ctx: Context) -> None:
    d = deal(ctx, actor(ctx, "rep", "sales_rep"))
    client = _client(web, "rep")
    url = f"/opportunity/{d['id']}/edit"
    form = {"name": "Big deal", "account": str(d["account"]), "stage": "won",
            "_version": str(d["version"])}
    resp = post_form(client, url, form)
    assert resp.status_code == 422
    assert "Prospecting → Won is not allowed; from Prospecting you may move to Qualification, " \
           "Lost." in unescape(resp.text)
    assert records(ctx).get("opportunity", d["id"])["stage"] == "prospecting"
    # what was typed stays selected next to the message, the allowed moves stay offered
    assert [v for v, _d in _options(resp.text)] == ["prospecting", "qualification", "won",
                                                    "lost"]


def _card_moves(html: str, rid: int) -> list[str] | None:
    card = re.search(rf'<article class="board-card[^>]*data-id="{rid}"[^>]*>', html)
    assert card, f"no card {rid}"
    moves = re.search(r"data-moves='([^']*)'", card.group(0))
    return None if moves is None else list(json.loads(unescape(moves.group(1))))


def test_board_cards_carry_the_moves_their_user_may_make(web: Flask, ctx: Context) -> None:
    rep = actor(ctx, "rep", "sales_rep")
    big = deal(ctx, rep, name="Big one", amount=250000, close_date="2026-06-30")
    small = deal(ctx, rep, name="Small one", amount=5000, close_date="2026-06-30")
    for d in (big, small):
        _walk(ctx, d["id"], "qualification", "proposal", "negotiation")
    html = _client(web, "rep").get("/opportunity/board").text
    assert _card_moves(html, big["id"]) == ["proposal", "lost"]
    assert _card_moves(html, small["id"]) == ["proposal", "won", "lost"]
    move_to = _options(html, f"move-{big['id']}")
    assert ("won", True) in move_to and ("lost", False) in move_to
    assert ("negotiation", False) in move_to  # where it is
    manager = _client(web, "manager", "manager-pass-1").get("/opportunity/board").text
    assert _card_moves(manager, big["id"]) == ["proposal", "won", "lost"]
    # a board of a field no machine governs has no data-moves
    other = _client(web, "rep").get("/opportunity/board?by=type").text
    assert "data-moves" not in other


def _move(client: FlaskClient, body: dict[str, Any]) -> Any:
    token = csrf(client.get("/opportunity/board").text)
    return client.post("/opportunity/board/move", json=body,
                       headers={"X-CSRFToken": token, "Accept": "application/json"})


def test_a_refused_drop_says_why_and_an_allowed_one_sends_the_new_moves(
        web: Flask, ctx: Context) -> None:
    d = deal(ctx, actor(ctx, "rep", "sales_rep"))
    client = _client(web, "rep")
    refused = _move(client, {"id": d["id"], "to": "won", "version": d["version"]})
    assert refused.status_code == 422
    assert refused.get_json()["error"] == ("Prospecting → Won is not allowed; from Prospecting "
                                           "you may move to Qualification, Lost.")
    ok = _move(client, {"id": d["id"], "to": "qualification", "version": d["version"]})
    assert ok.status_code == 200, ok.text
    assert ok.get_json()["record"]["moves"] == ["needs_analysis", "proposal", "lost"]
