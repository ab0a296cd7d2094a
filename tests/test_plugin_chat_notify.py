"""chat_notify: the action posts to a local HTTP server in each robot format (WeCom,
DingTalk with its signature, Feishu, generic JSON), fails clearly when the robot refuses,
and its parameters are checked by their JSON Schema."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest

from app.actions import ActionContext, registry
from app.context import Context
from tests.pluginkit import example_plugins


class Robot:
    """A chat robot webhook on 127.0.0.1: records requests, answers with `reply`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.status = 200
        self.reply: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        self.location: str | None = None
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                robot.requests.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(robot.status)
                if robot.location:
                    self.send_header("Location", robot.location)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(robot.reply).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?key=abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def last(self) -> tuple[str, dict[str, str], Any]:
        return self.requests[-1]


@pytest.fixture
def robot() -> Iterator[Robot]:
    r = Robot()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture(autouse=True)
def plugins() -> Iterator[None]:
    with example_plugins():
        yield


def run(params: dict[str, Any]) -> None:
    action = registry.get("chat_notify")
    assert action is not None
    jsonschema.validate(params, action.params_schema)
    context = ActionContext(ctx=Context.__new__(Context), entity="opportunity", event="updated",
                            record={"id": 7, "name": "大单 Big deal", "amount": "120000.00"})
    action.run(context, params)


TEXT = "{name} was won: ¥{amount}"


def test_wecom(robot: Robot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_TEST_CHAT", robot.url)
    run({"url_env": "CRM_TEST_CHAT", "format": "wecom", "text": TEXT})
    path, headers, body = robot.last()
    assert path == "/hook?key=abc"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert body == {"msgtype": "text", "text": {"content": "大单 Big deal was won: ¥120000.00"}}


def test_dingtalk_signed(robot: Robot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_TEST_DING_SECRET", "SEC123")
    before = int(time.time() * 1000)
    run({"url": robot.url, "format": "dingtalk", "text": TEXT,
         "secret_env": "CRM_TEST_DING_SECRET"})
    path, _headers, body = robot.last()
    assert body["msgtype"] == "text" and body["text"]["content"].startswith("大单")
    query = parse_qs(urlsplit(path).query)
    assert query["key"] == ["abc"]
    stamp = query["timestamp"][0]
    assert before <= int(stamp) <= int(time.time() * 1000)
    expected = base64.b64encode(hmac.new(b"SEC123", f"{stamp}\nSEC123".encode(),
                                         hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected]


def test_feishu_signed(robot: Robot, monkeypatch: pytest.MonkeyPatch) -> None:
    robot.reply = {"code": 0, "msg": "success"}
    monkeypatch.setenv("CRM_TEST_FEISHU_SECRET", "fs-secret")
    run({"url": robot.url, "format": "feishu", "text": "{name}",
         "secret_env": "CRM_TEST_FEISHU_SECRET"})
    body = robot.last()[2]
    assert body["msg_type"] == "text" and body["content"] == {"text": "大单 Big deal"}
    key = f"{body['timestamp']}\nfs-secret".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def test_generic(robot: Robot) -> None:
    robot.reply = {}
    run({"url": robot.url, "text": "{name} ({unknown})"})
    assert robot.last()[2] == {"text": "大单 Big deal ({unknown})", "entity": "opportunity",
                               "event": "updated", "record_id": 7}


def test_a_refusal_fails_the_action(robot: Robot) -> None:
    robot.reply = {"errcode": 93000, "errmsg": "invalid webhook url"}
    with pytest.raises(RuntimeError, match="refused the message: errcode 93000"):
        run({"url": robot.url, "format": "wecom", "text": "x"})
    robot.status, robot.reply = 500, {"error": "down"}
    with pytest.raises(RuntimeError, match=r"answered HTTP 500") as err:
        run({"url": robot.url, "format": "generic", "text": "x"})
    assert "key=abc" not in str(err.value)  # the robot's key stays out of logs


def test_redirects_are_not_followed(robot: Robot) -> None:
    robot.status, robot.location = 302, "http://example.invalid/elsewhere"
    with pytest.raises(RuntimeError, match="answered HTTP 302"):
        run({"url": robot.url, "text": "x"})
    assert len(robot.requests) == 1


def test_missing_environment_variables(robot: Robot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_TEST_NOT_SET", raising=False)
    with pytest.raises(RuntimeError, match=r"CRM_TEST_NOT_SET .*is not set"):
        run({"url_env": "CRM_TEST_NOT_SET", "text": "x"})
    with pytest.raises(RuntimeError, match="secret_env is for dingtalk and feishu"):
        run({"url": robot.url, "format": "wecom", "text": "x", "secret_env": "X"})
    assert robot.requests == []


@pytest.mark.parametrize(("params", "problem"), [
    ({"url": "http://x"}, "'text' is a required property"),
    ({"text": "x"}, "is not valid under any of the given schemas"),
    ({"text": "x", "url": "http://x", "url_env": "A"}, "is valid under each of"),
    ({"text": "x", "url": "file:///etc/passwd"}, "does not match"),
    ({"text": "x", "url": "http://x", "format": "slack"}, "is not one of"),
    ({"text": "x", "url_env": "NOT-A-NAME"}, "does not match"),
    ({"text": "x", "url": "http://x", "colour": "red"}, "Additional properties"),
    ({"text": "", "url": "http://x"}, "should be non-empty"),
])
def test_params_schema(params: dict[str, Any], problem: str) -> None:
    action = registry.get("chat_notify")
    assert action is not None
    with pytest.raises(jsonschema.ValidationError, match=problem):
        jsonschema.validate(params, action.params_schema)


def test_errors_name_only_the_scheme_and_host(robot: Robot) -> None:
    port = robot.server.server_port
    feishu = f"http://127.0.0.1:{port}/open-apis/bot/v2/hook/TOKEN-IN-PATH?key=KEY-IN-QUERY"
    robot.status, robot.reply = 500, {"code": 1}
    with pytest.raises(RuntimeError, match="answered HTTP 500") as err:
        run({"url": feishu, "format": "feishu", "text": "x"})
    assert f"http://127.0.0.1:{port}" in str(err.value)
    assert "TOKEN" not in str(err.value) and "KEY" not in str(err.value)
    import socket

    with socket.socket() as free:  # a port nobody listens on
        free.bind(("127.0.0.1", 0))
        closed = free.getsockname()[1]
    with pytest.raises(RuntimeError, match="cannot reach") as err:
        run({"url": feishu.replace(str(port), str(closed)), "format": "feishu", "text": "x",
             "timeout": 2})
    assert "TOKEN" not in str(err.value) and "KEY" not in str(err.value)


def test_posts_with_the_webhook_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.events import http

    sent: list[tuple[str, bytes, dict[str, str]]] = []

    def fake(url: str, body: bytes, headers: dict[str, str], timeout: float) -> http.Answer:
        sent.append((url, body, headers))
        return http.Answer(200, text='{"errcode": 0}')

    monkeypatch.setattr(http, "post", fake)
    run({"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "text": "{name}"})
    (url, body, headers), = sent
    assert url.endswith("key=k") and json.loads(body)["text"] == {"content": "大单 Big deal"}
    assert headers["User-Agent"].startswith("yamlcrm-chat-notify/")
