"""The mail settings of config.yaml: `mail_url` (smtp, smtp+starttls, smtps; a user but never a
password), `mail_from`, `base_url`, `mail_max_attempts`, `mail_timeout`, from the file or the
environment, each mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta.errors import ConfigErrors
from app.settings import MailServer, Settings, load_settings


def _load(tmp_path: Path, text: str, **environ: str) -> Settings:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text, encoding="utf-8")
    return load_settings(cfg, environ=environ)


def test_defaults(tmp_path: Path) -> None:
    s = _load(tmp_path, "name: X\n")
    assert s.mail_server is None
    assert s.mail_from == "CRM <crm@localhost>"
    assert s.base_url == "http://127.0.0.1:5000"
    assert (s.mail_max_attempts, s.mail_timeout) == (5, 30.0)
    assert s.mail_password is None


@pytest.mark.parametrize(("url", "server"), [
    ("smtp://mail.example.com", MailServer("mail.example.com", 25, "plain")),
    ("smtp://127.0.0.1:2525", MailServer("127.0.0.1", 2525, "plain")),
    ("smtp+starttls://crm@mail.example.com", MailServer("mail.example.com", 587, "starttls",
                                                        "crm")),
    ("smtps://apikey%40corp@smtp.example.com:4650", MailServer("smtp.example.com", 4650, "tls",
                                                              "apikey@corp")),
])
def test_mail_urls(tmp_path: Path, url: str, server: MailServer) -> None:
    assert _load(tmp_path, f"mail_url: {url}\n").mail_server == server


def test_from_the_environment(tmp_path: Path) -> None:
    s = _load(tmp_path, "name: X\n", CRM_MAIL_URL="smtp://m.example.com:26",
              CRM_MAIL_FROM="Sales: CRM <crm@example.com>", CRM_BASE_URL="https://crm.example.com/",
              CRM_MAIL_MAX_ATTEMPTS="2", CRM_MAIL_PASSWORD="pw")
    assert s.mail_server == MailServer("m.example.com", 26, "plain")
    assert s.mail_from == "Sales: CRM <crm@example.com>"
    assert s.base_url == "https://crm.example.com"
    assert s.mail_max_attempts == 2 and s.mail_password == "pw"


@pytest.mark.parametrize(("text", "needle"), [
    ("mail_url: http://mail.example.com\n", "mail_url must start with smtp://"),
    ("mail_url: smtp://crm:hunter2@mail.example.com\n", "must not contain a password"),
    ("mail_url: smtp://\n", "names no host"),
    ("mail_url: smtp://mail.example.com:0\n", "port that is not a number from 1 to 65535"),
    ("mail_url: smtp://mail.example.com:99999\n", "port that is not a number"),
    ("mail_url: smtp://mail.example.com/x?tls=1\n", "without a path or options"),
    ("mail_url: [a]\n", "mail_url must be text"),
    ("mail_from: nobody\n", "mail_from 'nobody' is not an address"),
    ("base_url: crm.example.com\n", "base_url 'crm.example.com' is not like https://"),
    ("mail_max_attempts: 0\n", "mail_max_attempts must be a positive number"),
    ("mail_timeout: -1\n", "mail_timeout must be a positive number"),
])
def test_mistakes_are_named(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigErrors) as info:
        _load(tmp_path, text)
    assert needle in str(info.value)
    assert "hunter2" not in str(info.value)
