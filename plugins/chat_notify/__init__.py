"""chat_notify: the action `chat_notify`, which posts a text message to a chat robot webhook
(WeCom 企业微信, DingTalk 钉钉, Feishu 飞书, or any service taking `{"text": ...}` JSON).

```yaml
actions:
  - chat_notify: {url_env: CRM_SALES_CHAT, format: wecom, text: "{name} was won: {amount}"}
```
See README.md in this folder.
"""

from __future__ import annotations

from app.actions import Action
from app.plugins import hookimpl

from .send import FORMATS, PARAMS_SCHEMA, notify


@hookimpl
def crm_actions() -> list[Action]:
    return [Action("chat_notify", notify, params_schema=PARAMS_SCHEMA,
                   label="Post a message to a chat robot webhook (" + ", ".join(FORMATS) + ")")]
