"""The security log: an append-only record of security events, kept apart from the record
audit trail (`sys_audit`).

What is logged, each with who (user id and name), from where (the client address, for web
requests) and when (UTC):

- sign-ins, successful and failed (with the username tried), rate-limited sign-in attempts and
  sign-outs;
- API tokens created and revoked;
- users created, their roles, teams or active flag changed, passwords changed;
- exports of a list view;
- config versions published (by `crm migrate`, `crm setup` or a replay): author, version,
  digest;
- access denials the permission layer reports (`app.web.seclog.denied`).

Append-only is enforced by the database, not only by the code: triggers refuse every UPDATE
and DELETE of `sys_security_log` (and TRUNCATE on PostgreSQL). They are made with the table by
`create_system_tables`, which `crm setup`, `crm migrate` and every publish call, and are added
to an existing table that lacks them. A database owner can still drop the triggers; where that
matters, grant the application's database role only INSERT and SELECT on the table.

Rows are bounded for an attacker: failed sign-ins are limited by `login_rate_limit` per client
address, and the events that could repeat without limit (rate-limited attempts, denials) are
written with `once_per`, at most once per window for the same event, address, user and record.

No Flask here: the web layer adds the request's user and address (`app.web.seclog`).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.i18n import _
from app.model.system import create_system_tables, security_log

TABLE = "sys_security_log"
#: the `entity` of events about a user account and about an API token
USER_ENTITY = "sys_user"
TOKEN_ENTITY = "sys_api_token"
LOGIN_OK = "login.ok"
LOGIN_FAILED = "login.failed"
LOGIN_LIMITED = "login.limited"
LOGOUT = "logout"
TOKEN_CREATED = "token.created"
TOKEN_REVOKED = "token.revoked"
USER_CREATED = "user.created"
USER_ROLES = "user.roles"
USER_TEAMS = "user.teams"
USER_ACTIVE = "user.active"
USER_PASSWORD = "user.password"
EXPORT = "export"
CONFIG_PUBLISHED = "config.published"
ACCESS_DENIED = "access.denied"
RECORD_SHARED = "record.shared"
RECORD_UNSHARED = "record.unshared"

#: every event code with its label (translated when shown)
EVENTS: dict[str, Callable[[], str]] = {
    LOGIN_OK: lambda: _("Signed in"),
    LOGIN_FAILED: lambda: _("Sign-in failed"),
    LOGIN_LIMITED: lambda: _("Sign-in attempts rate limited"),
    LOGOUT: lambda: _("Signed out"),
    TOKEN_CREATED: lambda: _("API token created"),
    TOKEN_REVOKED: lambda: _("API token revoked"),
    USER_CREATED: lambda: _("User created"),
    USER_ROLES: lambda: _("User's roles changed"),
    USER_TEAMS: lambda: _("User's teams changed"),
    USER_ACTIVE: lambda: _("User activated or deactivated"),
    USER_PASSWORD: lambda: _("Password changed"),
    EXPORT: lambda: _("List exported"),
    CONFIG_PUBLISHED: lambda: _("Config version published"),
    ACCESS_DENIED: lambda: _("Access denied"),
    RECORD_SHARED: lambda: _("Record shared"),
    RECORD_UNSHARED: lambda: _("Record share removed"),
}
#: what an event code looks like (plugins may log codes of their own)
EVENT_CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
MAX_LIMIT = 10_000
_SIZES = {"username": 80, "ip": 45, "entity": 63}
MAX_DETAIL_TEXT = 500

GUARD_MESSAGE = "sys_security_log is append-only"
_SQLITE_GUARDS = [
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{op.lower()} BEFORE {op} ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{GUARD_MESSAGE}'); END"
    for op in ("UPDATE", "DELETE")
]
_PG_FUNCTION = (
    f"CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{GUARD_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; "
    "END $$"
)
_PG_GUARDS = {
    f"{TABLE}_no_change": f"CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
                          f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()",
    f"{TABLE}_no_truncate": f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
                            f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()",
}
#: engines whose database is known to hold the table (checked once per engine)
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


@dataclass(frozen=True)
class Who:
    """Who acts, and from where: a signed-in user and the client address (web), or the
    command line (`via="cli:<os user>"`)."""

    user_id: int | None = None
    username: str | None = None
    ip: str | None = None
    via: str | None = None


def label(event: str) -> str:
    """The event's label in the current language (the code itself when unknown)."""
    make = EVENTS.get(event)
    return make() if make is not None else event


def cli_who() -> Who:
    """The actor of a `crm` command: the operating-system user running it."""
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        name = "?"
    return Who(via=f"cli:{name}"[:_SIZES["username"]])


def install_guards(conn: sa.Connection) -> None:
    """The triggers that make `sys_security_log` append-only; idempotent (called by
    `create_system_tables`, so an existing table gets them too)."""
    if conn.dialect.name == "sqlite":
        for ddl in _SQLITE_GUARDS:
            conn.exec_driver_sql(ddl)
    elif conn.dialect.name == "postgresql":
        have = set(conn.execute(sa.text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(:t)"),
            {"t": TABLE}).scalars())
        missing = [ddl for name, ddl in _PG_GUARDS.items() if name not in have]
        if missing:
            conn.exec_driver_sql(_PG_FUNCTION)
            for ddl in missing:
                conn.exec_driver_sql(ddl)


def _ensure_table(conn: sa.Connection) -> None:
    """Make the table (and its guards) on a database that predates it, once per engine: a
    deployment that starts on new code before `crm migrate` still logs."""
    engine = conn.engine
    if engine in _ready:
        return
    if sa.inspect(conn).has_table(TABLE):
        _ready.add(engine)
    else:  # made in the caller's transaction; marked ready at the next call, once committed
        create_system_tables(conn)


def _clip(value: str | None, key: str) -> str | None:
    return value[:_SIZES[key]] if value else None


def _plain(value: Any) -> Any:
    """`detail` as JSON values: long texts cut, dates and other objects as text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:MAX_DETAIL_TEXT]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)[:MAX_DETAIL_TEXT]


def record(conn: sa.Connection, event: str, *, user_id: int | None = None,
           username: str | None = None, ip: str | None = None, entity: str | None = None,
           record_id: int | None = None, detail: Mapping[str, Any] | None = None,
           who: Who | None = None, once_per: timedelta | None = None) -> bool:
    """Append one event in `conn`'s transaction (so it is kept exactly when the change it
    describes is). `who` fills user, name and address not given, and adds `via` to the detail.

    With `once_per`, nothing is written when the same event was already logged within that time
    for the same address, user id, entity and record (the guard against filling the disk with
    repeated attempts). Returns whether a row was written."""
    if not EVENT_CODE.match(event) or len(event) > 40:
        raise ValueError(f"not an event code: {event!r}")
    if who is not None:
        user_id = who.user_id if user_id is None else user_id
        username = who.username if username is None else username
        ip = who.ip if ip is None else ip
        if who.via:
            detail = {"via": who.via, **(detail or {})}
    _ensure_table(conn)
    now = datetime.now(UTC)
    ip, username, entity = _clip(ip, "ip"), _clip(username, "username"), _clip(entity, "entity")
    if once_per is not None:
        c = security_log.c
        seen = conn.execute(sa.select(c.id).where(
            c.event == event, c.at >= now - once_per,
            c.ip.is_(None) if ip is None else c.ip == ip,
            c.user_id.is_(None) if user_id is None else c.user_id == user_id,
            c.entity.is_(None) if entity is None else c.entity == entity,
            c.record_id.is_(None) if record_id is None else c.record_id == record_id,
        ).limit(1)).first()
        if seen is not None:
            return False
    conn.execute(sa.insert(security_log).values(
        at=now, event=event, user_id=user_id, username=username, ip=ip, entity=entity,
        record_id=record_id, detail=_plain(dict(detail)) if detail else None))
    return True


def query(conn: sa.Connection, *, event: str | None = None, user: str | int | None = None,
          since: datetime | date | None = None, until: datetime | date | None = None,
          limit: int = 100, before_id: int | None = None) -> list[dict[str, Any]]:
    """Events, newest first. `user` is a username or a user id; `since` and `until` are UTC
    (a date means its start: `until=date(2025, 1, 2)` ends with the 1st); `before_id` continues
    after the last row of a page (keyset paging: pass the smallest id seen)."""
    if not sa.inspect(conn).has_table(TABLE):
        return []
    c = security_log.c
    stmt = sa.select(security_log)
    if event:
        stmt = stmt.where(c.event == event)
    if isinstance(user, int):
        stmt = stmt.where(c.user_id == user)
    elif user:
        stmt = stmt.where(c.username == user)
    if since is not None:
        stmt = stmt.where(c.at >= _moment(since))
    if until is not None:
        stmt = stmt.where(c.at < _moment(until))
    if before_id is not None:
        stmt = stmt.where(c.id < before_id)
    stmt = stmt.order_by(c.id.desc()).limit(max(1, min(int(limit), MAX_LIMIT)))
    return [_row(r._mapping) for r in conn.execute(stmt)]


def _moment(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row(mapping: sa.RowMapping) -> dict[str, Any]:
    row = dict(mapping)
    at = row["at"]
    if isinstance(at, datetime):  # SQLite gives naive UTC times back
        row["at"] = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return row
