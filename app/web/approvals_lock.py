"""How the pages answer a save refused because an approval locks the record (`Locked`, 423;
app/workflow/approvals/lock.py): the create or edit form comes back with everything the user
typed and the reason on top; another refused POST on a record (delete, restore...) goes back
to the record's page with the reason as a message. Anything else: the error page (errors.py).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request
from flask.typing import ResponseReturnValue

from app.i18n import get_locale
from app.records import RECORD, Locked
from app.records.values import apply_defaults
from app.textnum import small_int
from app.web import formbuild
from app.web.state import entity_or_404, records

#: the form pages that re-render the user's input on a refusal
FORM_ENDPOINTS = ("forms.new", "forms.edit")


def locked_response(exc: Locked, wants_json: bool) -> ResponseReturnValue | None:
    """The page answering a POST refused by an approval lock, None for the plain error page."""
    if request.method != "POST" or wants_json:
        return None
    args: dict[str, Any] = request.view_args or {}
    entity, record_id = args.get("entity"), args.get("record_id")
    if request.endpoint in FORM_ENDPOINTS and isinstance(entity, str):
        return _form_again(exc, entity, record_id if isinstance(record_id, int) else None)
    if isinstance(entity, str) and isinstance(record_id, int):
        flash(exc.message, "danger")
        return redirect(f"/{entity}/{record_id}", 303)
    return None


def _form_again(exc: Locked, entity: str, record_id: int | None) -> ResponseReturnValue:
    """The form as it was posted, with the lock's message above the fields (423)."""
    from app.web import forms

    e = entity_or_404(entity)
    form = formbuild.form_class(current_app, e, get_locale())(formdata=request.form)
    values, _problems = formbuild.read_values(form, e, request.form)
    errors = {RECORD: [exc.message]}
    if record_id is None:
        shown = dict(values)
        apply_defaults(records().spec(e.name), shown, set(values))
        return forms._render(e, form, shown, None, errors, status=423)
    record = records().get(e.name, record_id)
    version = small_int(request.form.get(forms.VERSION, ""))
    return forms._render(e, form, {**record, **values}, record, errors, version=version,
                         status=423)
