"""Why a user can or cannot do something: `crm access explain` and the back office's "Access
explain" page.

`explain(records, username, entity, field, record_id)` answers, for one user (their roles and
teams as stored) and one entity: each action's verdict (a scope, or yes / no) and the role and
place in the YAML (file:line and YAML path) that grants it, or the roles checked when nothing
does (deny by default); for a field, whether it is visible, hidden or read-only and which role
decides; for a record, whether they may read, edit or delete THIS record and through which path
(scope all, own, team, subordinates, a manual share, a sharing rule), or why not.

Verdicts come from the same objects that enforce access (`ActorAccess`, `EntityAccess`,
`ActorAccess.where`), so the explanation cannot disagree with what the user gets. The live
config version is a snapshot without file positions: pass `sources` (the config as loaded from
the YAML files) to name files and lines; a value the files no longer say is named by its place
in the live version instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.access.actor import ActorAccess, Directory
from app.access.policy import EntityAccess, Origin, RoleGrant, entity_access, role_grant
from app.i18n import _
from app.meta.access import ACTIONS, ADMIN, SCOPED_ACTIONS, SharingRule
from app.meta.types import EntityDef, Meta
from app.model.access import shares, user_teams
from app.model.system import users
from app.records.change import Actor

if TYPE_CHECKING:
    from app.records.service import Records

__all__ = ["ExplainError", "Explanation", "Reason", "Verdict", "Where", "explain", "matrix"]


class ExplainError(ValueError):
    """Unknown user, entity, field or record: the message names it."""


@dataclass(frozen=True)
class Where:
    """A place in the config: a file (relative to the deployment when it can be), a line, and
    the YAML path of the value."""

    file: str | None
    line: int
    path: str

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line} ({self.path})"
        return f"{self.file} ({self.path})" if self.file else self.path

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line or None, "path": self.path}


@dataclass(frozen=True)
class Reason:
    text: str
    role: str | None = None
    origin: Where | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "role": self.role,
                "origin": self.origin.as_dict() if self.origin else None}


@dataclass
class Verdict:
    """The answer for one action (entity or record) or one field."""

    subject: str
    #: a scope (none ... all), yes / no, or for a field visible / read_only / hidden / no_access
    verdict: str
    allowed: bool
    reasons: list[Reason] = dataclasses.field(default_factory=list)
    #: records: the path that reaches the record (all, own, team, subordinates, share, rule)
    via: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "verdict": self.verdict, "allowed": self.allowed,
                "via": self.via, "reasons": [r.as_dict() for r in self.reasons]}


@dataclass
class Explanation:
    user: str
    user_id: int
    active: bool
    roles: tuple[str, ...]
    teams: tuple[str, ...]
    entity: str
    field: str | None = None
    record_id: int | None = None
    record_owner: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    actions: list[Verdict] = dataclasses.field(default_factory=list)
    field_verdict: Verdict | None = None
    record: list[Verdict] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "user": self.user, "user_id": self.user_id, "active": self.active,
            "roles": list(self.roles), "teams": list(self.teams), "entity": self.entity,
            "field": self.field, "record_id": self.record_id, "record_owner": self.record_owner,
            "notes": self.notes, "actions": [v.as_dict() for v in self.actions],
            "field_verdict": self.field_verdict.as_dict() if self.field_verdict else None,
            "record": [v.as_dict() for v in self.record]}


def _near(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return _(" (did you mean '%(name)s'?)", name=close[0]) if close else ""


class _Places:
    """Where grant values were written: in the YAML files when they still say what the live
    version says, else in the live version."""

    def __init__(self, live: Meta, sources: Meta | None, base: Path | None) -> None:
        self.live = live
        self.yaml = sources
        self.base = base

    def where(self, origin: Origin | None) -> Where | None:
        if origin is None:
            return None
        src = origin.source
        if src is None:
            return Where(None, 0, origin.path)
        file = src.file
        if self.base is not None:
            with contextlib.suppress(ValueError, OSError):
                file = str(Path(file).resolve().relative_to(self.base.resolve()))
        return Where(file, src.line, origin.path)

    def _yaml_grant(self, grant: RoleGrant) -> RoleGrant | None:
        if self.yaml is None or grant.entity not in self.yaml.entities:
            return None
        return role_grant(self.yaml, grant.role, self.yaml.entities[grant.entity])

    def of(self, grant: RoleGrant, key: str) -> Where | None:
        """The place of `grant`'s value for `key` (an action, `hidden` or `read_only`)."""
        y = self._yaml_grant(grant)
        if key in ("hidden", "read_only"):
            live_o = grant.hidden_origin if key == "hidden" else grant.read_only_origin
            if y is not None and getattr(y, key) == getattr(grant, key):
                return self.where(y.hidden_origin if key == "hidden" else y.read_only_origin)
            return self.where(live_o)
        if y is not None and key in y.origins and y.values.get(key) == grant.values.get(key):
            return self.where(y.origins[key])
        return self.where(grant.origins.get(key))

    def rule(self, rule: SharingRule) -> Where | None:
        path = f"access.sharing.{rule.name}"
        found = self.yaml.access.sharing.get(rule.name) if self.yaml and self.yaml.access \
            else None
        if found is not None and dataclasses.replace(found, source=rule.source) == rule:
            return self.where(Origin(found.source, path))
        return self.where(Origin(rule.source, path))

    def role(self, role: str) -> Where | None:
        """Where `role`'s `reports_to` is written."""
        path = f"access.roles.{role}.reports_to"
        live = self.live.access.roles.get(role) if self.live.access else None
        found = self.yaml.access.roles.get(role) if self.yaml and self.yaml.access else None
        if found is not None and live is not None and found.reports_to == live.reports_to:
            return self.where(Origin(found.source, path))
        return self.where(Origin(live.source, path)) if live is not None else None


def _value(acc: EntityAccess | RoleGrant, action: str) -> str:
    if action in SCOPED_ACTIONS:
        return acc.scope(action)
    return "yes" if acc.allows(action) else "no"


class _Explainer:
    def __init__(self, records: Records, row: Any, teams: tuple[str, ...], entity: EntityDef,
                 places: _Places) -> None:
        self.records = records
        self.meta = records.meta
        self.user = str(row.username)
        self.uid = int(row.id)
        self.roles = tuple(row.roles or ())
        self.teams = teams
        self.e = entity
        self.places = places
        self.acc = ActorAccess(records, Actor(self.uid, self.user, self.roles))
        self.ea = self.acc.entity(entity.name)
        self.label = entity.name

    # --- entity level ----------------------------------------------------------------------
    def action(self, action: str) -> Verdict:
        if self.acc.unrestricted:
            return Verdict(action, "all" if action in SCOPED_ACTIONS else "yes", True,
                           [Reason(_("Role admin may do everything."), ADMIN)])
        ea = self.ea
        verdict = Verdict(action, _value(ea, action), ea.allows(action))
        best = ea.granting(action)
        if best is None:
            verdict.reasons.append(Reason(self._nobody(action)))
        else:
            verdict.reasons.append(Reason(
                _("Granted by role %(role)s: %(action)s: %(value)s.", role=best.role,
                  action=action, value=_value(best, action)),
                best.role, self.places.of(best, action)))
        for g in ea.grants:
            if g is best:
                continue
            if g.role not in self.meta.roles:
                verdict.reasons.append(Reason(self._unknown_role(g.role), g.role))
            elif action in g.values:
                verdict.reasons.append(Reason(
                    _("Role %(role)s says %(action)s: %(value)s.", role=g.role, action=action,
                      value=_value(g, action)), g.role, self.places.of(g, action)))
            elif best is not None:  # else the first reason already names the roles checked
                verdict.reasons.append(Reason(
                    _("Role %(role)s does not grant %(action)s on %(entity)s (no default, no "
                      "permissions entry).", role=g.role, action=action, entity=self.label),
                    g.role))
        return verdict

    def _nobody(self, action: str) -> str:
        if not self.roles:
            return _("%(user)s has no role, so nothing is granted (deny by default).",
                     user=self.user)
        return _("No role of %(user)s grants %(action)s on %(entity)s (deny by default); roles "
                 "checked: %(roles)s.", user=self.user, action=action, entity=self.label,
                 roles=", ".join(self.roles))

    def _unknown_role(self, role: str) -> str:
        return _("Role %(role)s is not a role of this config (config.yaml's roles): it grants "
                 "nothing.", role=role)

    # --- fields ----------------------------------------------------------------------------
    def field(self, name: str) -> Verdict:
        f = self.e.fields[name]
        if self.acc.unrestricted:
            return Verdict(name, "visible", True,
                           [Reason(_("Role admin sees and changes every field."), ADMIN)])
        ea = self.ea
        readers = [g for g in ea.grants if g.allows("read")]
        if not readers:
            return Verdict(name, "no_access", False, [Reason(
                _("No role of %(user)s may read %(entity)s, so they see none of its fields.",
                  user=self.user, entity=self.label))])
        if name in ea.hidden:
            return Verdict(name, "hidden", False, self._hidden(name, readers))
        reasons: list[Reason] = []
        for g in readers:
            if name in g.hidden:
                reasons.append(Reason(
                    _("Role %(role)s hides it, but another role of theirs shows it (a field is "
                      "hidden only when every role that may read the entity hides it).",
                      role=g.role), g.role, self.places.of(g, "hidden")))
            else:
                reasons.append(Reason(
                    _("Role %(role)s may read %(entity)s (read: %(scope)s) and does not hide "
                      "it.", role=g.role, entity=self.label, scope=g.scope("read")),
                    g.role, self.places.of(g, "read")))
        editors = [g for g in ea.grants if g.allows("edit") or g.allows("create")]
        if name in ea.read_only:
            verdict = "read_only"
            for g in editors:
                key = "read_only" if name in g.read_only else "hidden"
                reasons.append(Reason(
                    _("Role %(role)s makes it read-only.", role=g.role) if key == "read_only"
                    else _("Role %(role)s hides it, so it cannot change it.", role=g.role),
                    g.role, self.places.of(g, key)))
        else:
            verdict = "visible"
            if not editors:
                reasons.append(Reason(_("No role of theirs may create or edit %(entity)s, so "
                                        "they cannot change it anyway.", entity=self.label)))
            for g in editors:
                if name not in g.read_only | g.hidden:
                    reasons.append(Reason(
                        _("Role %(role)s may change it.", role=g.role), g.role,
                        self.places.of(g, "edit" if g.allows("edit") else "create")))
                    break
        if f.read_only or self.records.registry.get(f.type).computed:
            reasons.append(Reason(_("The field itself is computed or read-only for everyone.")))
        return Verdict(name, verdict, True, reasons)

    def _hidden(self, name: str, readers: list[RoleGrant]) -> list[Reason]:
        if all(name in g.hidden for g in readers):
            return [Reason(_("Role %(role)s hides it.", role=g.role), g.role,
                           self.places.of(g, "hidden")) for g in readers]
        from app.access.policy import rollups_on_hidden
        from app.expr.parser import ExprError, parse

        rollup = rollups_on_hidden(self.records.meta, [g.role for g in readers], self.e)
        if name in rollup:
            return [Reason(_("It is a roll-up of %(field)s of %(entity)s, which is hidden from "
                             "them: showing it would show that value.",
                             field=rollup[name][1], entity=rollup[name][0]))]
        reads: set[str] = set()
        with contextlib.suppress(ExprError):
            reads = set(parse(str(self.e.fields[name].opt("expr")),
                              list(self.e.fields)).names)
        through = sorted(reads & self.ea.hidden)
        out = [Reason(_("It is a formula that reads %(fields)s, which is hidden from them: "
                        "showing it would show that value.", fields=", ".join(through)))]
        for other in through:
            out += self._hidden(other, readers) if other != name else []
        return out

    # --- one record ------------------------------------------------------------------------
    def record(self, record_id: int) -> tuple[list[Verdict], str | None, list[str]]:
        table = self.records.table(self.e.name)
        with self.records.engine.connect() as conn:
            row = conn.execute(sa.select(table.c.id, table.c.owner_id, table.c.deleted_at)
                               .where(table.c.id == record_id)).first()
        if row is None:
            raise ExplainError(_("There is no %(entity)s #%(id)s.", entity=self.label,
                                 id=record_id))
        owner = int(row.owner_id) if row.owner_id is not None else None
        names = self._names({owner} if owner is not None else set())
        notes = []
        if row.deleted_at is not None:
            notes.append(_("%(entity)s #%(id)s is deleted (in the recycle bin): restoring it "
                           "needs delete.", entity=self.label, id=record_id))
        out = [self._record_action(a, record_id, owner, names) for a in SCOPED_ACTIONS]
        owner_name = names.get(owner) if owner is not None else None
        return out, owner_name, notes

    def _names(self, ids: set[int]) -> dict[int | None, str]:
        if not ids:
            return {}
        with self.records.engine.connect() as conn:
            return {int(r.id): str(r.username) for r in conn.execute(
                sa.select(users.c.id, users.c.username).where(users.c.id.in_(sorted(ids))))}

    def _reaches(self, record_id: int, cond: sa.ColumnElement[bool] | None) -> bool:
        table = self.records.table(self.e.name)
        stmt = sa.select(table.c.id).where(table.c.id == record_id)
        with self.records.engine.connect() as conn:
            return conn.execute(stmt if cond is None else stmt.where(cond)).first() is not None

    def _record_action(self, action: str, record_id: int, owner: int | None,
                       names: Mapping[int | None, str]) -> Verdict:
        if self.acc.unrestricted:
            return Verdict(action, "yes", True, [Reason(_("Role admin may do everything."),
                                                        ADMIN)], via="all")
        truth = self._reaches(record_id, self.acc.where(self.e.name, action))
        verdict = Verdict(action, "yes" if truth else "no", truth)
        if not self.ea.allows(action):
            verdict.reasons.append(Reason(self._nobody(action)))
            if action != "delete" and (self._shares(action, record_id)[0]
                                       or self._rules(action, record_id)[0]):
                verdict.reasons.append(Reason(_(
                    "It is shared with them, but shares and sharing rules only widen which "
                    "records a granted action reaches.")))
            return verdict
        best = self.ea.granting(action)
        assert best is not None
        scope = self.ea.scope(action)
        where = self.places.of(best, action)
        paths, misses = self._scope_path(action, scope, best.role, where, owner, names)
        if action != "delete":
            hits, miss = self._shares(action, record_id)
            paths += hits
            misses += miss
            hits, miss = self._rules(action, record_id)
            paths += hits
            misses += miss
        else:
            misses.append(("", Reason(_("Shares and sharing rules never let anyone delete."))))
        verdict.reasons = [r for _via, r in (paths if truth else misses)]
        if truth and paths:
            verdict.via = paths[0][0]
        if bool(paths) != truth:
            verdict.reasons.append(Reason(_(
                "This explanation disagrees with the query that enforces access; the query "
                "decides. Please report it.")))
        return verdict

    def _scope_path(self, action: str, scope: str, role: str, where: Where | None,
                    owner: int | None, names: Mapping[int | None, str]
                    ) -> tuple[list[tuple[str, Reason]], list[tuple[str, Reason]]]:
        hit: list[tuple[str, Reason]] = []
        miss: list[tuple[str, Reason]] = []
        if scope == "all":
            return [("all", Reason(_("Scope all (role %(role)s) reaches every record.",
                                     role=role), role, where))], miss
        d: Directory = self.acc.directory()
        args = {"scope": scope, "role": role, "action": action}
        if owner is None:
            miss.append(("", Reason(_("It has no owner: %(action)s scope %(scope)s (role "
                                      "%(role)s) reaches only owned records.", **args),
                                    role, where)))
            return hit, miss
        oname = names.get(owner, f"#{owner}")
        reached = self.acc.owners(scope) or set()
        if owner == self.uid:
            hit.append(("own", Reason(_("They own it; %(action)s scope %(scope)s (role "
                                        "%(role)s) reaches their own records.", **args),
                                      role, where)))
        elif owner in reached and owner in d.team_mates(self.uid):
            common = sorted(d.teams_of(self.uid) & d.teams_of(owner))
            hit.append(("team", Reason(_("The owner %(owner)s is in team %(teams)s with them; "
                                         "%(action)s scope %(scope)s (role %(role)s) reaches "
                                         "teammates' records.", owner=oname,
                                         teams=", ".join(common), **args), role, where)))
        elif owner in reached:
            chain = self._chain(d.roles.get(owner, ()))
            hit.append(("subordinates", Reason(
                _("The owner %(owner)s is below them in the role hierarchy (%(chain)s); "
                  "%(action)s scope %(scope)s (role %(role)s) reaches subordinates' records.",
                  owner=oname, chain=chain[0] if chain else "?", **args), role,
                chain[1] if chain else where)))
        else:
            miss.append(("", Reason(_(
                "The owner is %(owner)s (roles: %(roles)s), not reached by %(action)s scope "
                "%(scope)s (role %(role)s).", owner=oname,
                roles=", ".join(d.roles.get(owner, ())) or "-", **args), role, where)))
        return hit, miss

    def _chain(self, owner_roles: Sequence[str]) -> tuple[str, Where | None] | None:
        """`sales_rep → sales_manager`: from an owner's role up to one of the user's roles."""
        access = self.meta.access
        if access is None:
            return None
        for mine in self.roles:
            below = access.below(mine)
            for start in owner_roles:
                if start not in below:
                    continue
                chain = [start]
                while chain[-1] != mine and len(chain) <= len(access.roles):
                    up = access.roles.get(chain[-1])
                    if up is None or up.reports_to is None:
                        break
                    chain.append(up.reports_to)
                return " → ".join(chain), self.places.role(start)
        return None

    def _shares(self, action: str, record_id: int
                ) -> tuple[list[tuple[str, Reason]], list[tuple[str, Reason]]]:
        who = [shares.c.user_id == self.uid]
        if self.teams:
            who.append(shares.c.team.in_(self.teams))
        by = users.alias("by")
        stmt = (sa.select(shares.c.user_id, shares.c.team, shares.c.access, shares.c.created_at,
                          by.c.username.label("by_name"))
                .select_from(shares.outerjoin(by, by.c.id == shares.c.created_by_id))
                .where(shares.c.entity == self.e.name, shares.c.record_id == record_id,
                       sa.or_(*who)).order_by(shares.c.id))
        with self.records.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        hit: list[tuple[str, Reason]] = []
        miss: list[tuple[str, Reason]] = []
        for r in rows:
            whom = _("with them") if r.user_id == self.uid else _("with team %(team)s",
                                                                  team=r.team)
            args = {"whom": whom, "access": r.access, "by": r.by_name or "?",
                    "at": r.created_at.date().isoformat() if r.created_at else "?"}
            if action == "read" or r.access == "edit":
                hit.append(("share", Reason(_("Shared by hand %(whom)s for %(access)s by "
                                              "%(by)s on %(at)s.", **args))))
            else:
                miss.append(("", Reason(_("Shared by hand %(whom)s for read only (by %(by)s "
                                          "on %(at)s): not enough to edit.", **args))))
        if not rows:
            miss.append(("", Reason(_("It is not shared by hand with them or their teams."))))
        return hit, miss

    def _rules(self, action: str, record_id: int
               ) -> tuple[list[tuple[str, Reason]], list[tuple[str, Reason]]]:
        access = self.meta.access
        rules = [r for r in (access.sharing.values() if access else ())
                 if r.entity == self.e.name]
        applying = {r.name for r in self.acc._rules(self.e.name, action)}
        hit: list[tuple[str, Reason]] = []
        miss: list[tuple[str, Reason]] = []
        table = self.records.table(self.e.name)
        for rule in rules:
            cond = rule.when if rule.via is None else f"{rule.via}: {rule.when}"
            args = {"rule": rule.name, "cond": cond, "access": rule.access}
            where = self.places.rule(rule)
            if rule.name not in applying:
                if action == "edit" and rule.access != "edit" and self._for_them(rule):
                    text = _("Sharing rule %(rule)s gives read access only.", **args)
                else:
                    text = _("Sharing rule %(rule)s shares with roles %(roles)s and teams "
                             "%(teams)s, not with them.", roles=", ".join(rule.roles) or "-",
                             teams=", ".join(rule.teams) or "-", **args)
                miss.append(("", Reason(text, None, where)))
            elif self._reaches(record_id, self.acc._rule_sql(rule, table)):
                hit.append(("rule", Reason(_("Sharing rule %(rule)s matches (%(cond)s) and "
                                             "shares it for %(access)s.", **args), None, where)))
            else:
                miss.append(("", Reason(_("Sharing rule %(rule)s does not match: %(cond)s is "
                                          "not true for it.", **args), None, where)))
        if not rules:
            miss.append(("", Reason(_("No sharing rule is about %(entity)s.",
                                      entity=self.label))))
        return hit, miss

    def _for_them(self, rule: SharingRule) -> bool:
        return bool(set(rule.roles) & set(self.roles) or set(rule.teams) & set(self.teams))


def explain(records: Records, username: str, entity: str, field_name: str | None = None,
            record_id: int | None = None, *, sources: Meta | None = None,
            base: Path | None = None) -> Explanation:
    """Why `username` may or may not do each action on `entity` (and its field, and one of its
    records). `sources`: the config loaded from the YAML files, to name files and lines;
    `base`: the folder file names are shown relative to."""
    meta = records.meta
    with records.engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.username, users.c.roles,
                                     users.c.active).where(users.c.username == username)
                           ).first()
        if row is None:
            known = list(conn.execute(sa.select(users.c.username)).scalars())
            raise ExplainError(_("There is no user '%(name)s'%(hint)s.", name=username,
                                 hint=_near(username, known)))
        teams = tuple(sorted(conn.execute(sa.select(user_teams.c.team).where(
            user_teams.c.user_id == row.id)).scalars()))
    e = meta.entities.get(entity)
    if e is None:
        raise ExplainError(_("There is no entity '%(name)s'%(hint)s.", name=entity,
                             hint=_near(entity, list(meta.entities))))
    if field_name is not None and field_name not in e.fields:
        raise ExplainError(_("Entity '%(entity)s' has no field '%(name)s'%(hint)s.",
                             entity=entity, name=field_name,
                             hint=_near(field_name, list(e.fields))))
    if sources is not None and sources.digest != meta.digest:
        sources_note = _("The YAML files differ from the live config version: a value they no "
                         "longer say is named by its place in the live version.")
    else:
        sources_note = ""
    ex = _Explainer(records, row, teams, e, _Places(meta, sources, base))
    out = Explanation(ex.user, ex.uid, bool(row.active), ex.roles, teams, entity, field_name,
                      record_id)
    if sources_note:
        out.notes.append(sources_note)
    if not row.active:
        out.notes.append(_("%(user)s is inactive and cannot sign in.", user=ex.user))
    for role in ex.roles:
        if role not in meta.roles:
            out.notes.append(ex._unknown_role(role))
    known_teams = meta.access.teams if meta.access is not None else {}
    for team in teams:
        if team not in known_teams:
            out.notes.append(_("Team %(team)s is not a team of this config: no rule names it.",
                               team=team))
    out.actions = [ex.action(a) for a in ACTIONS]
    if field_name is not None:
        out.field_verdict = ex.field(field_name)
    if record_id is not None:
        out.record, out.record_owner, notes = ex.record(record_id)
        out.notes += notes
    return out


# --- the matrix --------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatrixRow:
    role: str
    entity: str
    #: action -> scope (read, edit, delete) or yes / no (create, export, import)
    values: Mapping[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"role": self.role, "entity": self.entity, **self.values}


def matrix(meta: Meta, roles: Sequence[str] | None = None) -> list[MatrixRow]:
    """Every role (config.yaml's, or `roles`) x entity x action: what a user with only that
    role may do."""
    wanted = list(roles) if roles is not None else list(meta.roles)
    unknown = [r for r in wanted if r not in meta.roles]
    if unknown:
        raise ExplainError(_("There is no role '%(name)s'%(hint)s.", name=unknown[0],
                             hint=_near(unknown[0], list(meta.roles))))
    out: list[MatrixRow] = []
    for role in wanted:
        for e in sorted(meta, key=lambda e: e.name):
            ea = entity_access(meta, [role], e)
            out.append(MatrixRow(role, e.name, {a: _value(ea, a) for a in ACTIONS}))
    return out

