"""The `send_survey` action and the surveys' built-in plugin (listed in
`app.plugins.BUILTIN_PLUGINS`).

```yaml
stages:
  case_status:
    entity: case
    field: status
    transitions: [{from: "*", to: [new, in_progress, waiting, escalated, resolved, closed]}]
    on_enter:
      closed:
        - send_survey:
            expires_in_days: 14                 # how long the link works (1-365, default 14)
            subject: {en: "How did we do on {number}?", zh: "工单 {number} 服务满意度调查"}
            message: {en: "...", zh: "..."}     # the first paragraph; {field} of the case
            on_create: false                    # also for cases created closed (imports)
```

Like every queued action it runs on the task queue after the case's save committed
(app/events/tasks.py), so a refused save sends nothing; it makes the survey and its email in
one transaction (app/surveys/service.py `start_survey`). The plugin mirrors each survey's status
(and, once answered, its rating) onto its case's `survey_status` and `satisfaction`, in the
survey's own save.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.actions import Action, ActionContext, registry
from app.plugins import hookimpl
from app.records.change import SYSTEM, Change
from app.records.errors import RecordError
from app.surveys.service import ANSWERED, CASE, CHILDREN, DEFAULT_DAYS, SURVEY, start_survey

log = logging.getLogger(__name__)

_TEXT = {"type": "object", "additionalProperties": False, "minProperties": 1,
         "properties": {"en": {"type": "string", "minLength": 1, "maxLength": 2000},
                        "zh": {"type": "string", "minLength": 1, "maxLength": 2000}}}
PARAMS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "subject": _TEXT,
        "message": _TEXT,
        "on_create": {"type": "boolean"},
    },
}


def send_survey(context: ActionContext, params: Mapping[str, Any]) -> None:
    """Survey the contact of the case that entered the stage (see the module's docstring)."""
    from app.workflow.approvals.tasks import live_records

    if context.entity != CASE:
        raise ValueError(f"send_survey works on cases, not on {context.entity}")
    if context.event == "created" and not params.get("on_create", False):
        return
    rs = live_records(context.ctx)
    if rs is None or SURVEY not in rs.meta.entities:
        log.warning("send_survey: no live config with the %s entity", SURVEY)
        return
    texts = {k: dict(params[k]) for k in ("subject", "message") if k in params}
    case_id = int(context.record["id"])
    try:
        started = start_survey(rs, context.ctx.settings, case_id,
                               expires_in_days=int(params.get("expires_in_days", DEFAULT_DAYS)),
                               texts=texts, render=context.render)
    except RecordError as exc:  # an address the mail service refuses: nothing to retry
        log.warning("send_survey: case %s: no survey sent: %s", case_id, exc.message)
        return
    if started.skipped:
        log.info("send_survey: case %s: no survey sent: %s", case_id, started.skipped)


SEND_SURVEY = registry.register(Action(
    name="send_survey", run=send_survey, params_schema=PARAMS,
    label="Email the case's contact a satisfaction survey (a link to a public page)"))


@hookimpl
def crm_actions() -> list[Action]:
    return [SEND_SURVEY]


@hookimpl
def crm_record_after_save(change: Change) -> None:
    """A survey's status or rating changed: the case shows it (in the same transaction)."""
    if change.entity.name != SURVEY or change.action not in ("create", "update"):
        return
    moved = change.changed()
    if "status" not in moved and "rating" not in moved:
        return
    service, case_id = change.service, change.values.get("case")
    if service is None or case_id is None or CASE not in service.meta.entities:
        return
    case_fields = service.meta.entities[CASE].fields
    values: dict[str, Any] = {}
    if "survey_status" in case_fields:
        values["survey_status"] = change.values.get("status")
    if "satisfaction" in case_fields and change.values.get("status") == ANSWERED:
        values["satisfaction"] = change.values.get("rating")
    if not values or not _latest(change, int(case_id)):
        return
    child = service._update(change.conn, CASE, int(case_id), values, SYSTEM, None)
    change.__dict__.setdefault(CHILDREN, []).append(child)


def _latest(change: Change, case_id: int) -> bool:
    """Whether the case is live and this is its newest survey (an older one changing must not
    overwrite what a newer one says)."""
    import sqlalchemy as sa

    service = change.service
    cases = service.table(CASE)
    live = change.conn.execute(sa.select(cases.c.id).where(
        cases.c.id == case_id, cases.c.deleted_at.is_(None))).first()
    if live is None:
        return False
    table = service.table(SURVEY)
    column = table.c[service.spec(SURVEY).columns["case"]]
    newer = change.conn.execute(sa.select(table.c.id).where(
        column == case_id, table.c.id > change.id, table.c.deleted_at.is_(None))
        .limit(1)).first()
    return newer is None


@hookimpl
def crm_record_after_commit(change: Change) -> None:
    """After-commit hooks of the case updates a survey made, when its writer did not run
    them (the escalation that expires surveys saves through the service's own methods)."""
    children: list[Change] = change.__dict__.pop(CHILDREN, [])
    for child in children:
        if change.service is not None:
            change.service._after_commit(child)
