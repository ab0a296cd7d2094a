"""End to end over SMTP (aiosmtpd): an agent closes a case, the task queue (immediate) sends
the survey mail to the contact, the link in it opens the public page, the answers land on the
case and in the service dashboard's numbers."""

from __future__ import annotations

from pathlib import Path

from app.reports.compute import run_report
from tests import mailkit
from tests.mailkit import MailBox
from tests.servicekit import LINK, Desk, service_deployment, signed_in, web
from tests.webkit import csrf

mail_server = mailkit.mail_server


def test_the_survey_goes_out_and_its_answers_count(mail_server: MailBox, tmp_path: Path,
                                                   database_url: str) -> None:
    ctx = service_deployment(tmp_path, database_url, extra_config=mail_server.config)
    try:
        desk = Desk(ctx)
        app = web(ctx)
        case = desk.case(contact=desk.contact("li.wei@example.com"))
        desk.close(case)  # as the agent, through the records service
        [msg] = mail_server.messages
        assert msg["To"] == "li.wei@example.com"
        assert msg["Subject"] == f"How did we do? Your case {case['number']}"
        text = mail_server.text(msg)
        match = LINK.search(text)
        assert match and f"{mailkit.BASE_URL}/survey/{match.group(1)}" in text
        html = mail_server.html(msg)
        assert html is not None and f"/survey/{match.group(1)}" in html
        assert desk.survey_mails()[0]["status"] == "sent"

        public = app.test_client()
        page = public.get(f"/survey/{match.group(1)}")
        done = public.post(f"/survey/{match.group(1)}", data={
            "rating": "5", "resolved": "yes", "comment": "太好了", "csrf_token": csrf(page.text)})
        assert done.status_code == 200
        assert desk.record("case", case["id"])["satisfaction"] == 5

        # a second case, rated 2: the service reports count both
        other = desk.case(contact=desk.contact("wang@example.com"))
        token = desk.close(other)
        page = public.get(f"/survey/{token}")
        public.post(f"/survey/{token}", data={"rating": "2", "csrf_token": csrf(page.text)})
        manager = desk.as_user("svcmanager")
        by_rating = run_report(manager, manager.meta.reports["survey_responses"])
        assert [(r.keys, r.values["count"]) for r in by_rating.rows] == [((2,), 1), ((5,), 1)]
        csat = run_report(manager, manager.meta.reports["csat_by_month"])
        [month] = csat.rows
        assert float(month.values["avg_rating"]) == 3.5 and month.values["count"] == 2
        dashboard = signed_in(app, "svcmanager").get("/dashboards/service")
        assert dashboard.status_code == 200
        assert "CSAT by month" in dashboard.text and "Survey responses" in dashboard.text
    finally:
        ctx.dispose()
