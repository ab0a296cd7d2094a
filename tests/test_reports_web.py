"""The report pages (app/web/reports.py): the list, running a report (chart, table, totals,
drill-down links), the builder (options from the entity's fields, preview, save, problems shown
at the fields with a 422, nothing saved), exports, and who may run, change and delete what."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.context import Context
from app.model.reports import user_reports
from tests.reportswebkit import (
    DEALS,
    builder_form,
    client_for,
    post_builder,
    problems,
    report_deployment,
    save_report,
    seed_deals,
)
from tests.webkit import csrf, web_app


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = report_deployment(tmp_path, database_url)
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture
def web(ctx: Context) -> Flask:
    app = web_app(ctx)
    seed_deals(app, ctx)
    return app


def _saved(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(user_reports))
                   .scalar_one())


def test_list_shows_standard_and_own_reports(web: Flask) -> None:
    c = client_for(web, "manager")
    html = c.get("/reports/").text
    assert 'href="/reports/pipeline_by_stage"' in html and 'id="new-report"' in html
    assert 'href="/reports/open_cases_by_priority"' in html or "case" in html
    ref = save_report(c, label="Deals by stage")
    html = c.get("/reports/").text
    assert f'data-ref="{ref}"' in html and "Deals by stage" in html
    # a rep does not see the manager's report (not shared), nor reports of entities they may
    # not read
    assert f'data-ref="{ref}"' not in client_for(web, "rep").get("/reports/").text
    agent = client_for(web, "agent").get("/reports/").text
    assert 'href="/reports/pipeline_by_stage"' not in agent  # agents may not read deals


def test_report_page_has_chart_table_totals_and_drill_links(web: Flask) -> None:
    c = client_for(web, "manager")
    ref = save_report(c, measures=(("count", ""), ("sum", "amount")), label="By stage")
    html = c.get(f"/reports/{ref}").text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="crm-chart"' in html
    stages = {s for s, _a, _o in DEALS}
    assert html.count('class="crm-chart-mark"') == 2 * len(stages)  # two measures
    won = [d for d in DEALS if d[0] == "won"]
    row = re.search(r'<th scope="row" class="fw-normal">Won</th>(.*?)</tr>', html, re.S)
    assert row is not None
    assert f'href="/reports/{ref}/drill?k=won" class="crm-drill">{len(won)}</a>' in row.group(1)
    assert "CN¥5,700.00" in row.group(1)
    totals = html.split("crm-report-totals")[1].split("</tr>")[0]
    assert f">{len(DEALS)}<" in totals and "CN¥7,090.00" in totals
    # the drill-down: the list filtered to the won deals, with as many rows as counted
    resp = c.get(f"/reports/{ref}/drill?k=won")
    assert resp.status_code == 302
    listing = c.get(resp.headers["Location"]).text
    assert len(re.findall(r'<tr[^>]*data-id="', listing)) == len(won)


def test_a_rep_counts_only_their_own_deals(web: Flask) -> None:
    c = client_for(web, "rep")
    html = c.get("/reports/pipeline_by_stage").text
    mine_open = [d for d in DEALS if d[2] == "rep" and d[0] not in ("won", "lost")]
    totals = html.split("crm-report-totals")[1].split("</tr>")[0]
    assert f">{len(mine_open)}<" in totals


def test_builder_offers_the_entity_fields(web: Flask) -> None:
    c = client_for(web, "rep")
    assert 'id="g1-field"' not in c.get("/reports/new").text  # no entity yet
    html = post_builder(c, builder_form(action="choose")).text
    group = html.split('id="g1-field"')[1].split("</select>")[0]
    assert 'value="stage"' in group and 'value="close_date" data-kind="date"' in group
    assert 'value="description"' not in group  # long text is not groupable
    numbers = html.split('id="m-field-0"')[1].split("</select>")[0]
    assert 'value="amount"' in numbers and 'value="stage"' not in numbers
    assert 'value="margin"' not in html  # hidden from sales reps
    assert 'data-ops="eq ne' in html


def test_preview_draws_without_saving(web: Flask, ctx: Context) -> None:
    c = client_for(web, "manager")
    resp = post_builder(c, builder_form(action="preview", chart="pie"))
    assert resp.status_code == 200
    assert 'id="report-preview"' in resp.text and "crm-chart" in resp.text
    assert "/drill" not in resp.text  # the draft has no page to drill from yet
    assert _saved(ctx) == 0


@pytest.mark.parametrize(("form", "expected"), [
    (builder_form(measures=(("sum", ""),)), "measure-0: Sum needs a number field."),
    (builder_form(measures=(("sum", "stage"),)),
     "measure-0: Cannot take the sum of Stage: it is not a number field."),
    (builder_form(groups=(("description", ""),)), "group-0: Cannot group by Description"),
    (builder_form(groups=(("stage", "month"),)),
     "group-0: Cannot group Stage by month: only date fields have buckets."),
    (builder_form(filters=(("amount", "gte", "lots"),)), "filter-0: Filter on Amount"),
    (builder_form(groups=(("nope", ""),)), "group-0: Opportunity has no field 'nope'"),
    (builder_form(entity="nothing"), "entity: There is no entity 'nothing'."),
    (builder_form(chart="pie", groups=()), "chart: A pie chart shows one grouping"),
])
def test_builder_shows_problems_at_the_fields_and_saves_nothing(
        web: Flask, ctx: Context, form: dict[str, str], expected: str) -> None:
    c = client_for(web, "manager")
    resp = post_builder(c, form)
    assert resp.status_code == 422
    assert any(p.startswith(expected) for p in problems(resp.text)), problems(resp.text)
    assert 'id="builder-problems"' in resp.text
    assert _saved(ctx) == 0


def test_builder_refuses_hidden_fields_and_unreadable_entities(web: Flask, ctx: Context
                                                                ) -> None:
    rep = client_for(web, "rep")
    resp = post_builder(rep, builder_form(measures=(("avg", "margin"),)))
    assert resp.status_code == 422 and "margin" in " ".join(problems(resp.text))
    agent = client_for(web, "agent")
    resp = post_builder(agent, builder_form())
    assert resp.status_code == 422
    assert problems(resp.text)[0].startswith("entity: ")
    assert _saved(ctx) == 0


def test_save_and_edit_own_report(web: Flask, ctx: Context) -> None:
    c = client_for(web, "rep")
    ref = save_report(c, label="Mine by stage")
    assert "Mine by stage" in c.get(f"/reports/{ref}").text
    page = c.get(f"/reports/{ref}/edit").text
    assert 'value="Mine by stage"' in page
    resp = post_builder(c, builder_form(label="Renamed", chart="line"), f"/reports/{ref}/edit")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/reports/{ref}")
    assert "Renamed" in c.get(f"/reports/{ref}").text
    assert _saved(ctx) == 1


def test_others_may_not_change_a_report(web: Flask, ctx: Context) -> None:
    owner = client_for(web, "rep")
    private = save_report(owner, label="Private")
    shared = save_report(owner, label="Shared one", shared=True)
    other = client_for(web, "rep2")
    assert other.get(f"/reports/{private}").status_code == 404
    assert other.get(f"/reports/{private}/edit").status_code == 404
    assert other.get(f"/reports/{shared}").status_code == 200
    assert 'id="edit-report"' not in other.get(f"/reports/{shared}").text
    assert other.get(f"/reports/{shared}/edit").status_code == 403
    token = csrf(other.get(f"/reports/{shared}").text)
    resp = other.post(f"/reports/{shared}/edit", data={**builder_form(label="Hijacked"),
                                                        "csrf_token": token})
    assert resp.status_code == 403
    assert other.post(f"/reports/{shared}/delete",
                      data={"csrf_token": token}).status_code == 403
    assert "Hijacked" not in owner.get(f"/reports/{shared}").text
    # the owner may delete it
    token = csrf(owner.get(f"/reports/{shared}").text)
    assert owner.post(f"/reports/{shared}/delete", data={"csrf_token": token}).status_code == 302
    assert owner.get(f"/reports/{shared}").status_code == 404
    assert _saved(ctx) == 1


def test_bad_references_and_keys_are_4xx(web: Flask) -> None:
    c = client_for(web, "manager")
    for url in ("/reports/nope", "/reports/u99999999999999", "/reports/u0/edit",
                "/reports/pipeline_by_stage/export.pdf"):
        assert c.get(url).status_code == 404, url
    assert c.get("/reports/pipeline_by_stage/drill").status_code == 400  # one key needed
    assert c.get("/reports/pipeline_by_stage/drill?k=a&k=b").status_code == 400
    ref = save_report(c, groups=(("close_date", "month"),))
    assert c.get(f"/reports/{ref}/drill?k=not-a-date").status_code == 400
    # config reports are changed in YAML, not here
    assert c.get("/reports/pipeline_by_stage/edit").status_code == 403


def test_forms_need_the_csrf_token(web: Flask, ctx: Context) -> None:
    c = client_for(web, "manager")
    assert c.post("/reports/new", data=builder_form()).status_code == 400
    assert _saved(ctx) == 0


def test_copy_of_a_standard_report_is_prefilled(web: Flask) -> None:
    c = client_for(web, "manager")
    html = c.get("/reports/new?from=pipeline_by_stage").text
    assert 'value="Copy of Pipeline by stage"' in html
    assert '<option value="stage" selected>' in html


def test_export_csv_has_every_group_and_the_totals(web: Flask) -> None:
    c = client_for(web, "manager")
    ref = save_report(c, measures=(("count", ""), ("sum", "amount")))
    resp = c.get(f"/reports/{ref}/export.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Stage" and len(rows) == 1 + len({d[0] for d in DEALS}) + 1
    assert rows[-1][0] == "Total" and rows[-1][1] == str(len(DEALS))
    assert c.get(f"/reports/{ref}/export.xlsx").status_code == 200
