"""The public satisfaction survey page and the survey card on a case (docs/service.md).

- `/survey/<token>` (no sign-in): the form (rating 1-5, problem solved?, comment) in the
  survey's language (`?lang=en` / `?lang=zh_CN` switches); its POST (CSRF) saves the answers
  once through app/surveys/service.py and shows a thank-you page. An unknown link answers 404,
  an answered or expired one 410, each with a page that says so; bad answers 422 with the
  message beside the question.
- On a case's page: the card "Satisfaction survey" (`crm_record_panels`) with the newest
  survey's status, rating and comment, for users who may read surveys.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from app import i18n
from app.i18n import _
from app.plugins import hookimpl
from app.records import Records, ValidationFailed
from app.surveys import service as surveys
from app.web.recordext import RecordPanel
from app.web.state import records, state

bp = Blueprint("surveys", __name__)
RATINGS = (1, 2, 3, 4, 5)


def _system() -> Records:
    """The records service as the system: the survey page has no signed-in user."""
    st = state()
    if st.models is None:
        from flask import abort

        abort(503)
    return Records(st.ctx.engine, st.models, plugins=st.plugins)


def _language(survey: dict[str, Any] | None) -> None:
    chosen = request.args.get("lang") or (survey or {}).get("language")
    if chosen:
        i18n.set_locale(str(chosen))


def _private(resp: Response) -> Response:
    """The link is a secret: no caching, no referrer, no search engine."""
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Robots-Tag"] = "noindex, nofollow"
    return resp


def _closed(exc: surveys.SurveyNotFound | surveys.SurveyClosed) -> Response:
    reason = getattr(exc, "reason", "unknown")
    html = render_template("surveys/closed.html", message=exc.message, reason=reason)
    return _private(Response(html, exc.status, mimetype="text/html"))


@bp.route("/survey/<token>", methods=["GET", "POST"])
def answer(token: str) -> ResponseReturnValue:
    rs = _system()
    try:
        survey = surveys.open_survey(rs, token)
    except (surveys.SurveyNotFound, surveys.SurveyClosed) as exc:
        if request.args.get("lang"):
            _language(None)
        return _closed(exc)
    _language(survey)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form = request.form
        try:
            surveys.submit(rs, token, rating=form.get("rating"), resolved=form.get("resolved"),
                           comment=form.get("comment"))
        except (surveys.SurveyNotFound, surveys.SurveyClosed) as exc:
            return _closed(exc)
        except ValidationFailed as exc:
            errors, status = exc.errors, exc.status
        else:
            html = render_template("surveys/thanks.html")
            return _private(Response(html, 200, mimetype="text/html"))
    html = render_template("surveys/form.html", survey=survey, token=token, errors=errors,
                           ratings=RATINGS, form=request.form)
    return _private(Response(html, status, mimetype="text/html"))


# --- the case's card ---------------------------------------------------------------------------
@hookimpl
def crm_record_panels(entity: str, record: dict[str, Any]) -> list[RecordPanel] | None:
    if entity != surveys.CASE:
        return None
    rs = records()
    survey = surveys.latest_of_case(rs, int(record["id"]))
    if survey is None:
        return None
    e = rs.meta.entities[surveys.SURVEY]
    return [RecordPanel("survey-panel", _("Satisfaction survey"), "surveys/_panel.html",
                        {"survey": survey, "e": e}, order=50)]
