"""Building, signing and posting chat robot messages.

The POST is `app.events.http.post` (urllib, no redirects followed: a webhook URL that
redirects is refused, so a message never goes to another host). Errors name only the URL's
scheme and host: robot keys live in the path (Feishu, Slack) or the query (WeCom, DingTalk).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from app.actions import ActionContext
from app.events import http

FORMATS: tuple[str, ...] = ("wecom", "dingtalk", "feishu", "generic")
#: the formats that sign with `secret_env`
SIGNED: tuple[str, ...] = ("dingtalk", "feishu")
#: webhook hosts whose format is known when `format` is left out
HOSTS: dict[str, str] = {
    "qyapi.weixin.qq.com": "wecom",
    "oapi.dingtalk.com": "dingtalk",
    "open.feishu.cn": "feishu",
    "open.larksuite.com": "feishu",
}
ENV_NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
            "description": "the name of an environment variable"}
PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "format": {"enum": list(FORMATS),
                   "description": "the robot's message format; default: from the URL's host, "
                                  "else generic"},
        "url": {"type": "string", "pattern": "^https?://",
                "description": "the webhook URL (it holds the robot's key: prefer url_env)"},
        "url_env": {**ENV_NAME, "description": "environment variable holding the webhook URL"},
        "text": {"type": "string", "minLength": 1, "maxLength": 4000,
                 "description": "the message; {field} is replaced by the record's value"},
        "secret_env": {**ENV_NAME, "description": "environment variable holding the signing "
                                                  "secret (dingtalk, feishu)"},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 60,
                    "description": "seconds to wait for the chat service (default 10)"},
    },
    "required": ["text"],
    "oneOf": [{"required": ["url"]}, {"required": ["url_env"]}],
    "additionalProperties": False,
}
USER_AGENT = "yamlcrm-chat-notify/1"


class ChatNotifyError(RuntimeError):
    """The message could not be sent (the task fails and is retried where the runner does)."""


def format_for(url: str, given: str | None) -> str:
    if given:
        return given
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return HOSTS.get(host, "generic")


def _env(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ChatNotifyError(f"chat_notify: the environment variable {name} ({what}) is not "
                              "set")
    return value


def dingtalk_signed_url(url: str, secret: str, now_ms: int) -> str:
    """DingTalk: `timestamp` (ms) and `sign` = base64(HMAC-SHA256(secret, f"{t}\\n{secret}"))
    added to the query."""
    digest = hmac.new(secret.encode(), f"{now_ms}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    return f"{url}{'&' if '?' in url else '?'}timestamp={now_ms}&sign={sign}"


def feishu_sign(secret: str, now_s: int) -> str:
    """Feishu: base64(HMAC-SHA256 keyed with f"{t}\\n{secret}" over nothing), t in seconds."""
    key = f"{now_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def payload(fmt: str, text: str, context: ActionContext) -> dict[str, Any]:
    if fmt in ("wecom", "dingtalk"):
        return {"msgtype": "text", "text": {"content": text}}
    if fmt == "feishu":
        return {"msg_type": "text", "content": {"text": text}}
    return {"text": text, "entity": context.entity, "event": context.event,
            "record_id": context.record.get("id")}


def post(url: str, body: dict[str, Any], timeout: float) -> http.Answer:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return http.post(url, data, {"Content-Type": "application/json; charset=utf-8",
                                 "User-Agent": USER_AGENT}, timeout)


def _safe(url: str) -> str:
    """Only the URL's scheme and host (robot keys live in its path or query)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def refusal(fmt: str, text: str) -> str | None:
    """What the service said when it refused a message it answered with 200 (WeCom and
    DingTalk: `errcode`, Feishu: `code`); None when it took it."""
    try:
        answer = json.loads(text) if text.strip() else {}
    except ValueError:
        return None if fmt == "generic" else f"an answer that is not JSON: {text[:200]!r}"
    if not isinstance(answer, dict):
        return None
    if fmt in ("wecom", "dingtalk") and answer.get("errcode", 0) != 0:
        return f"errcode {answer.get('errcode')}: {answer.get('errmsg')}"
    if fmt == "feishu" and answer.get("code", answer.get("StatusCode", 0)) != 0:
        return f"code {answer.get('code')}: {answer.get('msg')}"
    return None


def notify(context: ActionContext, params: Mapping[str, Any]) -> None:
    """The `chat_notify` action: render `text` with the record, post it, check the answer."""
    url = params.get("url") or _env(str(params.get("url_env")), "the chat webhook URL")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ChatNotifyError("chat_notify: the webhook URL must start with http:// or "
                              "https://")
    fmt = format_for(url, params.get("format"))
    text = context.render(str(params["text"]))
    body = payload(fmt, text, context)
    secret_env = params.get("secret_env")
    if secret_env:
        if fmt not in SIGNED:
            raise ChatNotifyError(f"chat_notify: secret_env is for {' and '.join(SIGNED)} "
                                  f"robots, not {fmt}")
        secret = _env(str(secret_env), "the robot's signing secret")
        if fmt == "dingtalk":
            url = dingtalk_signed_url(url, secret, int(time.time() * 1000))
        else:
            now = int(time.time())
            body = {"timestamp": str(now), "sign": feishu_sign(secret, now), **body}
    answer = post(url, body, float(params.get("timeout", 10)))
    if answer.status is None:
        raise ChatNotifyError(f"chat_notify: cannot reach {_safe(url)}: {answer.error}")
    if not answer.ok:
        raise ChatNotifyError(f"chat_notify: {_safe(url)} answered HTTP {answer.status}: "
                              f"{answer.text[:200]}")
    problem = refusal(fmt, answer.text)
    if problem:
        raise ChatNotifyError(f"chat_notify: the {fmt} robot refused the message: {problem}")
