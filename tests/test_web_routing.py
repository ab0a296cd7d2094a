"""URL rules compile their URL builders on first use (app/web/routing.py): building URLs and
matching requests work as with werkzeug's eager rules."""

from __future__ import annotations

from flask import url_for

from app.web.routing import CrmFlask, LazyRule


def make_app() -> CrmFlask:
    app = CrmFlask(__name__)

    @app.route("/deal/<int:record_id>/edit")
    def edit(record_id: int) -> str:
        return f"edit {record_id}"

    @app.route("/static-page")
    def page() -> str:
        return "page"

    return app


def test_rules_are_lazy_rules_and_match_requests() -> None:
    app = make_app()
    assert all(isinstance(rule, LazyRule) for rule in app.url_map.iter_rules())
    client = app.test_client()
    assert client.get("/deal/42/edit").text == "edit 42"
    assert client.get("/deal/x/edit").status_code == 404


def test_urls_build_with_and_without_extra_arguments() -> None:
    app = make_app()
    with app.test_request_context():
        assert url_for("edit", record_id=7) == "/deal/7/edit"
        assert url_for("edit", record_id=7, tab="二") == "/deal/7/edit?tab=%E4%BA%8C"
        assert url_for("page") == "/static-page"
        assert url_for("edit", record_id=8) == "/deal/8/edit"  # compiled once, used again
        assert url_for("page", _external=True) == "http://localhost/static-page"
