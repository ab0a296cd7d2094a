"""What every designer page shares: admins only, the Designer service of this deployment, and
adding a change to the signed-in admin's draft (a change that cannot be made is shown, not
saved)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash
from flask_login import current_user

from app.designer.changes import Change, ChangeError
from app.designer.drafts import Draft
from app.designer.service import Designer
from app.i18n import _
from app.web.state import state


def admin_only() -> None:
    """Designer pages are for administrators (403 for everyone else)."""
    if not getattr(current_user, "is_admin", False):
        abort(403)


def author() -> str:
    """Who the draft belongs to and who is recorded as the author of what it publishes."""
    return str(current_user.username)


def designer() -> Designer:
    """The designer of this deployment, running its config checks (config_tests/) on every
    candidate when the deployment has any."""
    return Designer.of(state().ctx)


def add_change(change: Change) -> Draft | None:
    """Add `change` to the admin's draft; on ChangeError flash it and return None."""
    try:
        draft = designer().add(author(), change)
    except ChangeError as exc:
        flash(_("The change could not be made: %(why)s", why=str(exc)), "danger")
        return None
    flash(_("Added to your draft. Preview and apply it when you are ready."), "success")
    return draft


def designer_context() -> dict[str, Any]:
    """Template values of every designer page: register on each designer blueprint with
    `bp.context_processor(designer_context)`."""
    if not getattr(current_user, "is_authenticated", False):
        return {}
    from app.designer import drafts

    with state().ctx.engine.connect() as conn:
        draft = drafts.load(conn, author())
    return {"draft_count": len(draft.changes) if draft else 0}
