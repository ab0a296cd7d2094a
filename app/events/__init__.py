"""Record events out of the CRM: outbound webhooks and automations (workflows/*.yaml).

`plugin.py` (a built-in plugin) writes one outbox row per matching webhook or automation inside
the record's transaction and enqueues them after commit; `tasks.py` delivers and runs them on the
task queue (`app.tasks`) with retries; `outbox.py` owns the rows; `http.py` and `signing.py` the
signed POST; `actions.py` the built-in `call_webhook` action. See docs/webhooks.md.
"""
