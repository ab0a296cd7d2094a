"""Reports and dashboards users build, in the database: saving, changing and deleting a report,
who sees it (owner, shared, admin), config reports by name and user reports as `u<id>`,
the dashboards of one's roles and one's own, widgets on one's own dashboards only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.records import Actor, Forbidden, NotFound
from app.reports import store
from app.reports.definition import report_from_data
from app.reports.types import DashboardDef, Widget
from tests.reportskit import actor, records, report_deployment


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = report_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


def report(label: str = "Mine", **data: object) -> object:
    return report_from_data("mine", {"entity": "opportunity", "label": {"en": label},
                                     "group_by": ["stage"], **data})


def test_save_read_change_and_delete(ctx: Context) -> None:
    rep, rep2, admin = actor(ctx, "rep"), actor(ctx, "rep2"), actor(ctx, "admin")
    meta = records(ctx).meta
    with ctx.engine.begin() as conn:
        rid = store.save_report(conn, int(rep.id or 0), report(
            filters=[{"field": "close_date", "op": "gte", "values": ["2026-01-01"]}]))
    with ctx.engine.connect() as conn:
        mine = store.get_report(meta, conn, rep, f"u{rid}")
        assert mine is not None
        assert (mine.name, mine.origin, mine.ref, mine.label_for("en")) == (
            f"u{rid}", "user", rid, "Mine")
        assert mine.filters[0].values == ("2026-01-01",)
        assert store.get_report(meta, conn, rep, rid) == mine
        assert store.user_reports(conn, int(rep.id or 0)) == [mine]
        assert store.get_report(meta, conn, rep2, f"u{rid}") is None  # not shared
        assert store.get_report(meta, conn, admin, f"u{rid}") == mine
        assert store.may_change(conn, rep, rid) and store.may_change(conn, admin, rid)
        assert not store.may_change(conn, rep2, rid)
        assert store.get_report(meta, conn, rep, "pipeline_by_stage") is \
            meta.reports["pipeline_by_stage"]
        assert store.get_report(meta, conn, rep, "u999") is None
        assert store.get_report(meta, conn, rep, "nothing") is None
    with ctx.engine.begin() as conn:
        store.update_report(conn, rid, report("Renamed", chart="pie"), shared=True)
    with ctx.engine.connect() as conn:
        seen = store.get_report(meta, conn, rep2, f"u{rid}")
        assert seen is not None and (seen.label_for("en"), seen.chart) == ("Renamed", "pie")
        assert store.is_shared(conn, rid)
        own, shared = store.reports_visible_to(conn, int(rep2.id or 0))
        assert own == [] and shared == [(seen, "Rep")]
        with pytest.raises(Forbidden):
            store.check_may_change(conn, rep2, rid)  # may read it, not change it
        store.check_may_change(conn, rep, rid)
    with ctx.engine.begin() as conn:
        store.delete_report(conn, rid)
    with ctx.engine.connect() as conn:
        assert store.get_report(meta, conn, rep, f"u{rid}") is None
        with pytest.raises(NotFound):
            store.check_may_change(conn, rep, rid)
    with ctx.engine.begin() as conn, pytest.raises(NotFound):
        store.delete_report(conn, rid)


def test_dashboards_of_roles_and_ones_own(ctx: Context) -> None:
    meta = records(ctx).meta
    rep, svc, admin = actor(ctx, "rep"), actor(ctx, "svcboss"), actor(ctx, "admin")
    with ctx.engine.connect() as conn:
        assert [d.name for d in store.dashboards_for(meta, conn, rep)] == ["sales"]
        assert [d.name for d in store.dashboards_for(meta, conn, svc)] == ["service"]
        assert {d.name for d in store.dashboards_for(meta, conn, admin)} == {
            "sales", "service", "marketing"}
        nobody = Actor(0, "nobody", ())
        assert store.dashboards_for(meta, conn, nobody) == []
    with ctx.engine.begin() as conn:
        first = store.save_dashboard(conn, int(rep.id or 0), DashboardDef(
            "mine", label={"en": "My deals"}))
        second = store.save_dashboard(conn, int(rep.id or 0), DashboardDef(
            "other", label={"en": "Other"}, widgets=(Widget("won_by_month"),)))
        store.add_widget(conn, int(rep.id or 0), f"u{first}", Widget("pipeline_by_stage", 12))
        store.add_widget(conn, int(rep.id or 0), first, Widget("u5", 4, "bar"))
        store.set_default_dashboard(conn, int(rep.id or 0), f"u{second}")
    with ctx.engine.connect() as conn:
        found = store.dashboards_for(meta, conn, rep)
        assert [(d.name, d.origin) for d in found] == [
            ("sales", "config"), (f"u{second}", "user"), (f"u{first}", "user")]
        mine = found[2]
        assert (mine.ref, mine.label_for("en")) == (first, "My deals")
        assert mine.widgets == (Widget("pipeline_by_stage", 12), Widget("u5", 4, "bar"))
        assert [d.name for d in store.dashboards_for(meta, conn, actor(ctx, "rep2"))] == [
            "sales"]  # another user's dashboards are not theirs
    with ctx.engine.begin() as conn:
        store.set_widgets(conn, int(rep.id or 0), f"u{first}", [Widget("u5", 6)])
        store.delete_dashboard(conn, int(rep.id or 0), f"u{second}")
    with ctx.engine.connect() as conn:
        found = store.dashboards_for(meta, conn, rep)
        assert [d.widgets for d in found if d.origin == "user"] == [(Widget("u5", 6),)]


def test_widgets_go_only_on_ones_own_dashboards(ctx: Context) -> None:
    rep, rep2 = actor(ctx, "rep"), actor(ctx, "rep2")
    with ctx.engine.begin() as conn:
        theirs = store.save_dashboard(conn, int(rep2.id or 0), DashboardDef("d"))
    with ctx.engine.begin() as conn, pytest.raises(NotFound):
        store.add_widget(conn, int(rep.id or 0), f"u{theirs}", Widget("won_by_month"))
    with ctx.engine.begin() as conn, pytest.raises(Forbidden):
        store.add_widget(conn, int(rep.id or 0), "sales", Widget("won_by_month"))
    with ctx.engine.begin() as conn, pytest.raises(NotFound):
        store.delete_dashboard(conn, int(rep.id or 0), theirs)
    with ctx.engine.connect() as conn:
        d = store.dashboards_for(records(ctx).meta, conn, rep2)[-1]
        assert d.ref == theirs and d.widgets == ()


def test_a_stored_definition_that_no_longer_reads_is_left_out(ctx: Context) -> None:
    from app.model.reports import user_reports

    rep = actor(ctx, "rep")
    with ctx.engine.begin() as conn:
        rid = store.save_report(conn, int(rep.id or 0), report())
        conn.execute(user_reports.update().where(user_reports.c.id == rid)
                     .values(definition={"entity": "opportunity", "colour": "red"}))
    with ctx.engine.connect() as conn:
        assert store.user_reports(conn, int(rep.id or 0)) == []
        assert store.get_report(records(ctx).meta, conn, rep, f"u{rid}") is None
