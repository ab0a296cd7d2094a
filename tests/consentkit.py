"""Test kit of consents and archiving: the default pack with the consent stage machine
(workflows/consent.yaml), the archiving rules (workflows/archiving.yaml) and the marketing
reports, published once; the users of tests.webkit.USERS plus a marketing user `mkt` and a
service agent `agent`; the immediate task queue (and SMTP to a local server when given).

    ctx = consent_deployment(tmp_path, database_url)
    rs = records(ctx)                                   # the system's records service
    c = contact(rs, "li@example.com")
    consent(rs, c, granted_at="2026-01-01T00:00:00+00:00")
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from app.context import Context
from app.meta.types import Meta
from app.migrate.publish import publish
from app.model.build import build_models
from app.model.system import create_system_tables
from app.records import Actor, Records
from app.settings import load_settings
from app.users import create_user
from tests.mailkit import MailBox
from tests.webkit import ROLES, ROOT, USERS, user_id

#: (username, password, roles) of a consent deployment's users
CONSENT_USERS = (*USERS, ("mkt", "mkt-pass-1234", ["marketing"]),
                 ("agent", "agent-pass-123", ["service_agent"]))
PASSWORDS = {u: p for u, p, _r in CONSENT_USERS}
USER_ROLES = {u: tuple(r) for u, _p, r in CONSENT_USERS}


def consent_deployment(folder: Path, database_url: str, *, mail_server: MailBox | None = None,
                       workflows: tuple[str, ...] = ("consent.yaml", "archiving.yaml"),
                       reports: tuple[str, ...] = ("marketing.yaml",),
                       files: dict[str, str] | None = None, extra: str = "") -> Context:
    """See the module's docstring; `files`: more config files (path in the deployment's
    folder, such as "reports/cases.yaml" -> YAML text). The caller disposes the Context."""
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    (folder / "workflows").mkdir(parents=True)
    for name in workflows:
        shutil.copy(ROOT / "workflows" / name, folder / "workflows" / name)
    (folder / "reports").mkdir()
    for name in reports:
        shutil.copy(ROOT / "reports" / name, folder / "reports" / name)
    for path, text in (files or {}).items():
        (folder / path).write_text(text, encoding="utf-8")
    config = (f"schemas: schemas\nworkflows: workflows\nreports: reports\n"
              f"roles: [{', '.join(ROLES)}]\nmigrations: migrations\n"
              "login_rate_limit: 1000 per minute\ntask_queue: immediate\n"
              + (mail_server.config if mail_server else "") + extra)
    (folder / "config.yaml").write_text(config, encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": database_url, "CRM_SECRET_KEY": "test-secret"}))
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        for username, password, roles in CONSENT_USERS:
            create_user(conn, username, password, roles, ctx.settings.roles,
                        full_name=username.capitalize(), email=f"{username}@crm.example")
    publish(ctx.engine, meta_of(ctx, folder))
    return ctx


_METAS: dict[str, Meta] = {}


def meta_of(ctx: Context, folder: Path) -> Meta:
    """The deployment's config, loaded once per test process for the same file texts."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*/*.y*ml")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    key = digest.hexdigest()
    if key not in _METAS:
        _METAS[key] = ctx.yaml_meta()
    ctx.__dict__["_consent_meta"] = _METAS[key]
    return _METAS[key]


def records(ctx: Context, actor: Actor | None = None) -> Records:
    """A records service of the live version with the built-in plugins, reading as `actor`
    (default: the system)."""
    found: Records | None = ctx.__dict__.get("_consent_records")
    if found is None:
        found = ctx.__dict__["_consent_records"] = Records(
            ctx.engine, build_models(ctx.__dict__.get("_consent_meta") or ctx.yaml_meta(),
                                     orm_classes=False), plugins=ctx.plugins)
    if actor is None:
        return found
    return Records(found.engine, found.models, plugins=found.plugins, actor=actor)


def actor(ctx: Context, username: str) -> Actor:
    return Actor(user_id(ctx, username), username, USER_ROLES[username])


def contact(rs: Records, email: str | None, last_name: str = "Wang", **values: Any) -> int:
    return int(rs.create("contact", {"last_name": last_name, "email": email, **values})["id"])


def consent(rs: Records, contact_id: int, *, purpose: str = "marketing",
            channel: str = "email", status: str = "granted",
            granted_at: str = "2026-01-01T09:00:00+00:00", **values: Any) -> int:
    return int(rs.create("consent", {"contact": contact_id, "purpose": purpose,
                                     "channel": channel, "status": status,
                                     "granted_at": granted_at, **values})["id"])
