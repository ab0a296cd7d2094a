"""The notification service: tell users something, in the app and by mail.

    from app.notify import Notice, notify, enqueue_pending

`notify(conn, settings, user_ids, Notice(...))` writes, in the caller's transaction, one
notification per active recipient (the bell and /notifications/) and one pending mail per
recipient with an address; after the commit, `enqueue_pending(ctx_or_engine)` hands the mails
to the task queue (`notify.send_mail`), and the `notify.sweep` task sends whatever is still due
every minute. See app/notify/service.py and app/notify/mail.py; docs/notifications.md.
"""

from app.notify.mail import enqueue_pending
from app.notify.service import (
    Notice,
    Notification,
    mark_all_read,
    mark_read,
    notifications_of,
    notify,
    unread_count,
)

__all__ = ["Notice", "Notification", "enqueue_pending", "mark_all_read", "mark_read",
           "notifications_of", "notify", "unread_count"]
