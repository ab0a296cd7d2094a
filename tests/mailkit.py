"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests of mail.

Use the `mail_server` fixture: bind it in the test module (pytest finds fixtures by name
there; an import of the name would make ruff see the test's parameter as a redefinition):

    from tests import mailkit
    from tests.mailkit import MailBox

    mail_server = mailkit.mail_server

    def test_it(mail_server: MailBox, tmp_path: Path, database_url: str) -> None:
        ctx = deployment(tmp_path, database_url,
                         extra_config=mail_server.config + "task_queue: immediate\\n")
        ... notify(conn, ctx.settings, [uid], Notice(...)) in a transaction ...
        enqueue_pending(ctx)            # the immediate queue sends at once
        msg = mail_server.messages[0]   # an email.message.EmailMessage
        assert msg["To"] == "rep@example.com" and "/quote/12" in mail_server.text(msg)

`mail_server.config` is the config.yaml lines pointing a deployment at it (`mail_url` and
`base_url: http://crm.test`); `mail_server.environ` the same as environment variables
(CRM_MAIL_URL, CRM_BASE_URL) for `load_settings(..., environ=...)` or a subprocess.
`mail_server.refuse_recipients = "550 no such user"` makes it refuse every recipient;
`with smtp_server(auth=("user", "secret")) as box:` starts one that wants a sign-in (give the
password as CRM_MAIL_PASSWORD and `mail_url: smtp://user@...`). `closed_port_url()` is the
mail_url of a port where nothing listens (a server that is down).
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

if TYPE_CHECKING:
    import sqlalchemy as sa

    from app.context import Context

BASE_URL = "http://crm.test"


@dataclass
class MailBox:
    """What the local server received, and how it behaves."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    #: (MAIL FROM, RCPT TOs) of each message, in order
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    #: an SMTP answer like "550 no such user" to every RCPT TO (None: accept)
    refuse_recipients: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def config(self) -> str:
        return f"mail_url: {self.url}\nbase_url: {BASE_URL}\n"

    @property
    def environ(self) -> dict[str, str]:
        return {"CRM_MAIL_URL": self.url, "CRM_BASE_URL": BASE_URL}

    @staticmethod
    def text(msg: EmailMessage) -> str:
        """The text/plain part of a message (decoded, with "\n" line ends)."""
        part = msg.get_body(preferencelist=("plain",))
        assert part is not None, "the message has no text part"
        return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]

    @staticmethod
    def html(msg: EmailMessage) -> str | None:
        """The text/html part of a message (decoded), if any."""
        part = msg.get_body(preferencelist=("html",))
        if part is None:
            return None
        return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


class _Handler:
    """Keeps what arrives. With `auth`, it checks AUTH PLAIN itself (aiosmtpd's own
    authenticator path warns of a deprecation on success, which the suite's warnings-as-errors
    would turn into a dropped connection) and refuses MAIL before a sign-in."""

    def __init__(self, box: MailBox, auth: tuple[str, str] | None = None) -> None:
        self.box = box
        self.auth = auth

    async def handle_AUTH(self, server: SMTPServer, session: Session, envelope: Envelope,
                          args: list[str]) -> str:
        try:
            _who, user, password = base64.b64decode(args[1]).decode().split("\0")
        except (IndexError, ValueError):
            return "501 5.5.2 Send AUTH PLAIN with its initial response"
        if (user, password) != self.auth:
            return "535 5.7.8 Authentication credentials invalid"
        session.authenticated = True
        return "235 2.7.0 Authentication successful"

    async def handle_MAIL(self, server: SMTPServer, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if self.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self.box.refuse_recipients:
            return self.box.refuse_recipients
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        with self.box.lock:
            self.box.messages.append(msg)
            self.box.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted"


class _Controller(Controller):
    """aiosmtpd's Controller on a port the system picks (port 0), read back once bound."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def smtp_server(auth: tuple[str, str] | None = None) -> Iterator[MailBox]:
    """Run a local SMTP server for the block; `auth`: the (user, password) it requires."""
    box = MailBox(port=0)
    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": 0}
    if auth is not None:  # AUTH PLAIN without TLS (fine on 127.0.0.1): see _Handler
        kwargs.update(auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])
    controller = _Controller(_Handler(box, auth), **kwargs)
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def mail_server() -> Iterator[MailBox]:
    """A local SMTP server that keeps what it receives (see the module's docstring)."""
    with smtp_server() as box:
        yield box


def closed_port_url() -> str:
    """The mail_url of a local port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"smtp://127.0.0.1:{port}"


# --- deployments for notification tests ------------------------------------------------------
def notify_deployment(folder: Path, database_url: str, extra: str = "") -> Context:
    """The small pack with tests.webkit.USERS, the immediate task queue and `extra` config
    lines (`mail_server.config` to send mails). The caller disposes the Context."""
    from tests.webkit import deployment

    return deployment(folder, database_url, pack="small",
                      extra_config=f"task_queue: immediate\n{extra}")


def set_user(ctx: Context, username: str, **values: Any) -> int:
    """Change a user's row (email, locale, active ...); returns their id."""
    import sqlalchemy as sa

    from app.model.system import users

    with ctx.engine.begin() as conn:
        return int(conn.execute(sa.update(users).where(users.c.username == username)
                                .values(**values).returning(users.c.id)).scalar_one())


def rows_of(ctx: Context, table: sa.Table) -> list[dict[str, Any]]:
    """Every row of a table (sys_mail, sys_notification), oldest first."""
    import sqlalchemy as sa

    with ctx.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]
