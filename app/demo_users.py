"""Demo users for a first look at access control: one user per role of the default pack, in
teams, owning a share of the demo records, so that signing in as `rep1` shows what a sales rep
sees (their own deals, no margin) and `manager` what their manager sees."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from app.meta.types import Meta
from app.model.build import build_models
from app.users import create_user, set_teams

#: (username, full name, role, teams); only those whose role and teams the config has are made
DEMO_USERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("director", "Zhou Min 周敏", "sales_director", ()),
    ("manager", "Wang Fang 王芳", "sales_manager", ("east",)),
    ("rep1", "Li Wei 李伟", "sales_rep", ("east",)),
    ("rep2", "Chen Jing 陈静", "sales_rep", ("north",)),
    ("service", "Zhao Lei 赵磊", "service_agent", ("east",)),
    ("svcmanager", "Sun Li 孙丽", "service_manager", ()),
    ("marketing", "Liu Yang 刘洋", "marketing", ()),
)
#: the org chart (user -> their manager), which approvals follow: a rep's discount goes to
#: their manager, then to the director
MANAGERS = {"manager": "director", "rep1": "manager", "rep2": "manager",
            "service": "svcmanager"}
#: who owns which entity's demo records, in turn (by role)
OWNERS_BY_ENTITY: dict[str, tuple[str, ...]] = {
    "case": ("service_agent", "service_manager"),
    "campaign": ("marketing",),
    "campaign_member": ("marketing",),
}
SALES_OWNERS = ("sales_rep", "sales_rep", "sales_manager", "sales_director")


def create_demo_users(conn: sa.Connection, meta: Meta, roles: Sequence[str], password: str
                      ) -> list[tuple[str, str]]:
    """Make the demo users the config can have; (username, role) of each."""
    teams = list(meta.access.teams) if meta.access is not None else []
    from app.model.system import users

    made = []
    ids: dict[str, int] = {}
    for username, full_name, role, in_teams in DEMO_USERS:
        if role not in roles:
            continue
        ids[username] = create_user(conn, username, password, [role], roles,
                                    full_name=full_name, email=f"{username}@example.com")
        set_teams(conn, ids[username], [t for t in in_teams if t in teams], teams)
        made.append((username, role))
    for username, boss in MANAGERS.items():
        if username in ids and boss in ids:
            conn.execute(users.update().where(users.c.id == ids[username])
                         .values(manager_id=ids[boss]))
    return made


def spread_ownership(conn: sa.Connection, meta: Meta) -> None:
    """Give the demo records to the demo users in turn (by id), so each sees their part."""
    from app.model.system import users

    by_role: dict[str, list[int]] = {}
    names = [u[0] for u in DEMO_USERS]
    for row in conn.execute(sa.select(users.c.id, users.c.roles)
                            .where(users.c.username.in_(names)).order_by(users.c.id)):
        for role in row.roles or ():
            by_role.setdefault(role, []).append(int(row.id))
    models = build_models(meta, orm_classes=False)
    for entity in meta:
        owners = [uid for role in OWNERS_BY_ENTITY.get(entity.name, SALES_OWNERS)
                  for uid in by_role.get(role, [])[:1 if role != "sales_rep" else 2]]
        owners = list(dict.fromkeys(owners))
        if not owners:
            continue
        table = models.table(entity.name)
        turn = sa.case({i: uid for i, uid in enumerate(owners)},
                       value=table.c.id % len(owners))
        conn.execute(sa.update(table).values(owner_id=turn))
