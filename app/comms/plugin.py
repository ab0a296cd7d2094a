"""The communication centre's records hook (a built-in plugin, `app.plugins.BUILTIN_PLUGINS`):
`email` records are the log of what was sent, written by the mail service only.

A user (even an administrator) cannot create an email record through a form, the API or an
import, and cannot change what the mail service records about delivery (status, sent at, error,
sender, kind, direction, files): only `app.comms.email.send_email` creates them (as the sending
user) and the system updates their status. (The default roles may not edit emails at all; an
administrator may correct the text, and erasing a person's data empties the recipients.)
"""

from __future__ import annotations

from app.comms.email import EMAIL, SENDING
from app.i18n import _
from app.plugins import hookimpl
from app.records.change import Change

#: what only the mail service writes
#: (the recipients are not: erasing a contact's personal data empties them, app/records/privacy)
PROTECTED = ("status", "sent_at", "error", "from_user", "kind", "direction", "attachment_names")


@hookimpl
def crm_record_validate(change: Change) -> list[tuple[str | None, str]] | None:
    if change.entity.name != EMAIL or change.actor.is_system or SENDING.get():
        return None
    if change.action == "create":
        return [(None, _("Emails are logged when they are sent: use Send email on a "
                         "record's page."))]
    changed = change.changed()
    return [(name, _("%(field)s is recorded by the mail service and cannot be changed.",
                     field=change.entity.fields[name].label_for(_locale())))
            for name in PROTECTED if name in changed and name in change.entity.fields] or None


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()
