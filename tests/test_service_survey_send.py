"""Closing a case sends its contact a satisfaction survey (the `send_survey` action on the case
status machine's Closed stage, workflows/service.yaml): a `survey_response` (sent, expiring in
14 days, only the SHA-256 of the link's token kept), the case's survey status, and a mail to the
contact logged on the case, written after the case's save committed. Nothing is sent without a
contact address, twice for one case, for a case created closed, or for a refused save."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.context import Context
from app.records import ValidationFailed
from app.surveys.service import start_survey
from tests.servicekit import Desk, service_deployment


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = service_deployment(tmp_path, database_url, extra_config="locale: en\n")
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def desk(ctx: Context) -> Desk:
    return Desk(ctx)


def test_closing_a_case_creates_a_survey_and_a_pending_mail(desk: Desk) -> None:
    contact = desk.contact("li.wei@example.com")
    case = desk.case(contact=contact)
    token = desk.close(case)
    assert token is not None
    [mail] = desk.survey_mails()
    assert mail["to_address"] == "li.wei@example.com"
    assert mail["subject"] == f"How did we do? Your case {case['number']}"
    assert f"http://127.0.0.1:5000/survey/{token}" in mail["body_text"]
    assert "Dear Wei Li," in mail["body_text"] and f'/survey/{token}"' in mail["body_html"]
    [survey] = desk.surveys(case["id"])
    assert survey["status"] == "sent" and survey["email"] == "li.wei@example.com"
    assert survey["contact"] == contact and survey["language"] == "en"
    assert survey["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(survey)
    assert survey["expires_at"] - survey["sent_at"] == timedelta(days=14)
    assert survey["owner_id"] == case["owner_id"]
    saved = desk.record("case", case["id"])
    assert (saved["survey_status"], saved["satisfaction"]) == ("sent", None)
    # the mail is logged on the case (the communication history)
    if "email" in desk.rs.meta.entities:
        table = desk.rs.table("email")
        with desk.ctx.engine.connect() as conn:
            rows = conn.execute(desk.rs.full_select("email").where(
                table.c.related_case_id == case["id"])).all()
        assert [(r.kind, r.to) for r in rows] == [("survey", "li.wei@example.com")]
    # reopened and closed again while the survey waits: no second survey
    desk.rs.update("case", case["id"], {"status": "in_progress"})
    desk.close(case)
    assert len(desk.survey_mails()) == 1 and len(desk.surveys(case["id"])) == 1


def test_no_survey_without_an_address_for_cases_created_closed_or_refused(desk: Desk) -> None:
    nobody = desk.case()
    desk.close(nobody)
    silent = desk.case(contact=desk.contact(email=None))
    desk.close(silent)
    desk.case(contact=desk.contact("old@example.com"), status="closed",
              resolution="Imported from the old system")
    refused = desk.case(contact=desk.contact("wang@example.com"))
    with pytest.raises(ValidationFailed):  # a closed case needs its resolution
        desk.as_user("agent").update("case", refused["id"], {"status": "closed"},
                                     desk.who("agent"))
    assert desk.survey_mails() == [] and desk.surveys() == []
    assert desk.record("case", nobody["id"])["survey_status"] is None


def test_the_survey_speaks_the_deployments_language_and_the_yaml_texts(
        tmp_path: Path, database_url: str) -> None:
    ctx = service_deployment(tmp_path, database_url, extra_config="locale: zh_CN\n")
    try:
        desk = Desk(ctx)
        case = desk.case(contact=desk.contact("li.wei@example.com"), status="closed",
                         resolution="已更换硒鼓")
        texts = {"subject": {"en": "How was case {number}?", "zh": "工单 {number} 满意度调查"}}
        done = start_survey(desk.rs, ctx.settings, case["id"], expires_in_days=3, texts=texts,
                            render=lambda t: t.replace("{number}", case["number"]))
        assert done.survey_id is not None and done.email == "li.wei@example.com"
        [survey] = desk.surveys(case["id"])
        assert survey["language"] == "zh_CN"
        assert survey["expires_at"] - survey["sent_at"] == timedelta(days=3)
        assert desk.survey_mails()[0]["subject"] == f"工单 {case['number']} 满意度调查"
        again = start_survey(desk.rs, ctx.settings, case["id"])
        assert again.survey_id is None and again.skipped == "the case has a survey already"
    finally:
        ctx.dispose()


def test_a_contacts_preferred_language_wins_over_the_deployments(
        tmp_path: Path, database_url: str) -> None:
    ctx = service_deployment(tmp_path, database_url, extra_config="locale: zh_CN\n")
    try:
        desk = Desk(ctx)
        contact = desk.contact("wendy@example.com", first_name="Wendy", last_name="Howard",
                               preferred_language="en")
        case = desk.case(contact=contact, status="closed", resolution="Toner replaced")
        done = start_survey(desk.rs, ctx.settings, case["id"])
        assert done.survey_id is not None
        [survey] = desk.surveys(case["id"])
        assert survey["language"] == "en"
        assert desk.survey_mails()[0]["subject"] == f"How did we do? Your case {case['number']}"
    finally:
        ctx.dispose()
