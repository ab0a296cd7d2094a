"""The consent reports: "Consents by purpose and channel" in reports/marketing.yaml (granted and
withdrawn counts), and the "who agreed to what" page /consents/report (contacts x purposes for
a channel with date and source, filters, CSV) for whoever may read consents."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import Context
from app.reports.compute import run_report
from app.users import create_user
from tests.consentkit import PASSWORDS, actor, consent, consent_deployment, contact, records
from tests.webkit import sign_in, web_app


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = consent_deployment(tmp_path, database_url)
    rs = records(c)
    an = contact(rs, "an@example.com", last_name="An")
    consent(rs, an, source="web_form", granted_at="2026-01-02T00:00:00+00:00")
    letter = consent(rs, an, purpose="newsletter", source="event")
    rs.update("consent", letter, {"status": "withdrawn",
                                  "withdrawn_at": "2026-02-03T00:00:00+00:00"})
    bo = contact(rs, "bo@example.com", last_name="Bo")
    mine = consent(rs, bo, source="phone")
    rs.update("consent", mine, {"status": "withdrawn",
                                "withdrawn_at": "2026-03-04T00:00:00+00:00"})
    cy = contact(rs, None, last_name="Cy", mobile="13800138000")
    consent(rs, cy, channel="sms", source="in_person")
    with c.engine.begin() as conn:
        create_user(conn, "nobody", "nobody-pass-1", [], c.settings.roles)
    try:
        yield c
    finally:
        c.dispose()


def test_the_report_counts_granted_and_withdrawn_by_purpose_and_channel(ctx: Context) -> None:
    rs = records(ctx, actor(ctx, "mkt"))
    result = run_report(rs, rs.meta.reports["consents_by_purpose_channel"])
    got = {r.keys: (r.values["sum_granted_count"], r.values["sum_withdrawn_count"])
           for r in result.rows}
    assert got == {("marketing", "email"): (1, 1), ("newsletter", "email"): (0, 1),
                   ("marketing", "sms"): (1, 0)}
    assert "consents_by_purpose_channel" in {
        w.report for w in rs.meta.dashboards["marketing"].widgets}


def _matrix(html: str) -> dict[str, dict[str, str]]:
    """contact name -> purpose -> status of the page's table."""
    out: dict[str, dict[str, str]] = {}
    for row in re.findall(r'<tr data-contact="\d+">(.*?)</tr>', html, re.S):
        name = re.search(r'<a href="/contact/\d+">([^<]+)</a>', row)
        assert name is not None
        cells = re.findall(r'<td data-purpose="(\w+)"(?: data-status="(\w+)")?', row)
        out[name.group(1).strip()] = {p: s for p, s in cells if s}
    return out


def test_who_agreed_to_what(ctx: Context) -> None:
    client = web_app(ctx).test_client()
    sign_in(client, "mkt", PASSWORDS["mkt"])
    assert 'id="consent-report-link"' in client.get("/").text
    page = client.get("/consents/report")
    assert page.status_code == 200
    assert _matrix(page.text) == {"An": {"marketing": "granted", "newsletter": "withdrawn"},
                                  "Bo": {"marketing": "withdrawn"}}
    assert "2026-03-04" in page.text and "Web form" in page.text
    sms = client.get("/consents/report?channel=sms")
    assert _matrix(sms.text) == {"Cy": {"marketing": "granted"}}
    granted = client.get("/consents/report?channel=email&status=granted&purpose=marketing")
    assert _matrix(granted.text) == {"An": {"marketing": "granted"}}
    assert 'data-purpose="newsletter"' not in granted.text
    first = re.search(r'<tr data-contact="(\d+)">', page.text)  # An, with two consents
    assert first is not None
    related = client.get(f"/contact/{first.group(1)}").text  # in the contact's related list
    assert len(set(re.findall(r'href="/consent/(\d+)"', related))) == 2
    assert client.get("/consents/report?channel=fax").status_code == 400
    assert client.get("/consents/report?purpose=spam").status_code == 400
    assert client.get("/consents/report?status=maybe").status_code == 400

    exported = client.get("/consents/report.csv?channel=email")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["Contact ID", "Contact", "Marketing: status", "Marketing: date",
                           "Marketing: source"]
    assert [r[1:5] for r in rows[1:]] == [["An", "Granted", "2026-01-02", "Web form"],
                                          ["Bo", "Withdrawn", "2026-03-04", "Phone"]]


def test_who_may_see_it(ctx: Context) -> None:
    agent = web_app(ctx).test_client()
    sign_in(agent, "agent", PASSWORDS["agent"])
    assert agent.get("/consents/report").status_code == 200  # agents read consents
    assert agent.get("/consents/report.csv").status_code == 403  # but may not export
    nobody = web_app(ctx).test_client()
    sign_in(nobody, "nobody", "nobody-pass-1")
    assert 'id="consent-report-link"' not in nobody.get("/").text
    assert nobody.get("/consents/report").status_code == 403
    assert nobody.get("/consents/report.csv").status_code == 403
