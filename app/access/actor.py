"""One user's access during one request: entity grants, the SQL that limits what they read,
edit and delete, and the fields they may not see or change.

Scopes become conditions on the record's `owner_id`: own (the user), team (anyone sharing one
of the user's teams), subordinates (that, plus users whose role is below one of the user's
roles). A record is also readable when it is shared with the user or one of their teams
(sys_share) or when a sharing rule for one of their roles or teams matches it; shares and rules
with `edit` access also let them edit it. Nothing else reaches a record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.access.policy import EntityAccess, cached_entity_access
from app.meta.access import ADMIN, SharingRule
from app.meta.types import Meta
from app.model.access import shares, user_teams
from app.model.system import users

if TYPE_CHECKING:
    from app.records.change import Actor
    from app.records.service import Records


@dataclass(frozen=True)
class Directory:
    """Users' roles and teams, read once per request when a scope needs them."""

    roles: Mapping[int, tuple[str, ...]]
    teams: Mapping[int, frozenset[str]]

    @classmethod
    def load(cls, conn: sa.Connection) -> Directory:
        roles = {int(r.id): tuple(r.roles or ()) for r in
                 conn.execute(sa.select(users.c.id, users.c.roles))}
        teams: dict[int, set[str]] = {}
        for r in conn.execute(sa.select(user_teams.c.user_id, user_teams.c.team)):
            teams.setdefault(int(r.user_id), set()).add(str(r.team))
        return cls(roles, {k: frozenset(v) for k, v in teams.items()})

    def teams_of(self, user_id: int) -> frozenset[str]:
        return self.teams.get(user_id, frozenset())

    def team_mates(self, user_id: int) -> set[int]:
        mine = self.teams_of(user_id)
        return {uid for uid, t in self.teams.items() if t & mine} | {user_id}

    def subordinates(self, meta: Meta, user_id: int) -> set[int]:
        """Users with a role below one of `user_id`'s roles in the hierarchy."""
        if meta.access is None:
            return set()
        below: set[str] = set()
        for role in self.roles.get(user_id, ()):
            below |= meta.access.below(role)
        return {uid for uid, rs in self.roles.items() if below & set(rs)}


class ActorAccess:
    """What `actor` may do, for one Records (one request)."""

    def __init__(self, records: Records, actor: Actor) -> None:
        self.records = records
        self.meta = records.meta
        self.actor = actor
        self.unrestricted = actor.is_system or ADMIN in actor.roles
        self._directory: Directory | None = None

    # --- entity level --------------------------------------------------------------------------
    def entity(self, name: str) -> EntityAccess:
        return cached_entity_access(self.meta, self.actor.roles, self.meta.entities[name])

    def allows(self, entity: str, action: str) -> bool:
        """Entity level: may the actor `action` any record of `entity` at all? (Shares and
        sharing rules widen which records a granted action reaches; they grant no action on
        an entity the user's roles give nothing on, as in Salesforce.)"""
        return self.unrestricted or self.entity(entity).allows(action)

    def hidden(self, entity: str) -> frozenset[str]:
        return frozenset() if self.unrestricted else self.entity(entity).hidden

    def read_only(self, entity: str) -> frozenset[str]:
        return frozenset() if self.unrestricted else self.entity(entity).read_only

    # --- records -------------------------------------------------------------------------------
    def directory(self) -> Directory:
        if self._directory is None:
            with self.records.engine.connect() as conn:
                self._directory = Directory.load(conn)
        return self._directory

    def owners(self, scope: str) -> set[int] | None:
        """Owner ids a scope reaches (None: every record)."""
        uid = self.actor.id
        if scope == "all" or uid is None:
            return None
        if scope == "none":
            return set()
        if scope == "own":
            return {uid}
        d = self.directory()
        mates = d.team_mates(uid)
        if scope == "team":
            return mates
        return mates | d.subordinates(self.meta, uid)

    def where(self, entity: str, action: str = "read") -> sa.ColumnElement[bool] | None:
        """The condition a record of `entity` meets when the actor may `action` it (read, edit
        or delete); None when every record qualifies."""
        if self.unrestricted:
            return None
        scope = self.entity(entity).scope(action)
        if scope == "none":
            return sa.false()
        owners = self.owners(scope)
        if owners is None:
            return None
        table = self.records.table(entity)
        parts: list[sa.ColumnElement[bool]] = []
        if owners:
            parts.append(table.c.owner_id.in_(sorted(owners)))
        if action in ("read", "edit"):
            parts += self._shared(entity, action, table)
            parts += [self._rule_sql(rule, table) for rule in self._rules(entity, action)]
        if action == "read" and any(p.entity == entity for p in self.meta.approvals.values()):
            parts.append(self._approver_of(entity, table))
        return sa.or_(*parts) if parts else sa.false()

    def _approver_of(self, entity: str, table: sa.Table) -> sa.ColumnElement[bool]:
        """Records the actor has (or had) an approval task on: an approver may read what
        they are asked to approve (as far as their roles read the entity at all)."""
        from app.model.approvals import approval_tasks, approvals

        uid = self.actor.id
        assert uid is not None
        t = approval_tasks.c
        who = [t.assignee_id == uid, t.delegated_from_id == uid]
        teams = self.directory().teams_of(uid)
        if teams:
            who.append(t.queue.in_(sorted(teams)))
        return table.c.id.in_(sa.select(approvals.c.record_id).join(
            approval_tasks, t.approval_id == approvals.c.id).where(
            approvals.c.entity == entity, sa.or_(*who)))

    def _rules(self, entity: str, action: str) -> list[SharingRule]:
        access = self.meta.access
        if access is None or self.actor.id is None:
            return []
        mine = set(self.actor.roles)
        teams = self.directory().teams_of(self.actor.id) if any(
            r.teams for r in access.sharing.values()) else frozenset()
        return [r for r in access.sharing.values()
                if r.entity == entity and (action == "read" or r.access == "edit")
                and (mine & set(r.roles) or teams & set(r.teams))]

    def _shared(self, entity: str, action: str, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        uid = self.actor.id
        assert uid is not None
        who = [shares.c.user_id == uid]
        teams = self.directory().teams_of(uid)
        if teams:
            who.append(shares.c.team.in_(sorted(teams)))
        levels = ["edit"] if action == "edit" else ["read", "edit"]
        return [table.c.id.in_(sa.select(shares.c.record_id).where(
            shares.c.entity == entity, shares.c.access.in_(levels), sa.or_(*who)))]

    def _rule_sql(self, rule: SharingRule, table: sa.Table) -> sa.ColumnElement[bool]:
        from app.expr.parser import parse
        from app.meta.checks import expr_kinds

        records = self.records
        target = rule.entity
        if rule.via is not None:
            target = str(records.entity(rule.entity).fields[rule.via].opt("to"))
        tdef = records.entity(target)
        ttable = records.table(target)
        columns: dict[str, Any] = {f: ttable.c[c] for f, c in records.spec(target).columns.items()
                                   if c in ttable.c}
        columns.update(records.models.formulas.get(target, {}))
        # a NULL result (a missing value) does not match: WHERE keeps only true
        matched = parse(rule.when, expr_kinds(tdef, records.registry)).to_sql(columns)
        if rule.via is None:
            return matched
        via_col = table.c[records.spec(rule.entity).columns[rule.via]]
        return via_col.in_(sa.select(ttable.c.id).where(ttable.c.deleted_at.is_(None), matched))
