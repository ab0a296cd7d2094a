"""The built-in action `call_webhook`: a signed POST of a rendered text, or of the record.

```yaml
actions:
  - call_webhook: {url_env: CRM_DEALS_HOOK, secret_env: CRM_DEALS_SECRET, body: "{name} won"}
```
Without `body` the POST carries JSON `{event, entity, record, changes}`. A non-2xx answer
raises, so the automation run is retried.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from app.actions import Action, ActionContext, registry

PARAMS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "pattern": "^https?://"},
        "url_env": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]*$"},
        "secret_env": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]*$"},
        "body": {"type": "string"},
    },
    "oneOf": [{"required": ["url"]}, {"required": ["url_env"]}],
}


class WebhookCallFailed(RuntimeError):
    pass


def call_webhook(context: ActionContext, params: Mapping[str, Any]) -> None:
    from app.events import http, signing

    url = params.get("url") or os.environ.get(str(params.get("url_env")), "")
    if not url:
        raise WebhookCallFailed(f"environment variable {params.get('url_env')} is not set")
    if "body" in params:
        body = context.render(str(params["body"])).encode("utf-8")
        ctype = "text/plain; charset=utf-8"
    else:
        body = json.dumps({"event": f"{context.entity}.{context.event}",
                           "entity": context.entity, "record": dict(context.record),
                           "changes": dict(context.changes)},
                          ensure_ascii=False, default=str).encode("utf-8")
        ctype = "application/json"
    headers = {"Content-Type": ctype, "X-CRM-Event": f"{context.entity}.{context.event}"}
    if params.get("secret_env"):
        secret = os.environ.get(str(params["secret_env"]))
        if not secret:
            raise WebhookCallFailed(f"environment variable {params['secret_env']} is not set")
        headers["X-CRM-Signature"] = signing.signature(secret, body)
    answer = http.post(str(url), body, headers, context.ctx.settings.webhook_timeout)
    if not answer.ok:
        raise WebhookCallFailed(answer.error or f"HTTP {answer.status}")


CALL_WEBHOOK = registry.register(Action(
    name="call_webhook", run=call_webhook, params_schema=PARAMS,
    label="POST a text or the record as JSON to a URL, signed with HMAC"))
