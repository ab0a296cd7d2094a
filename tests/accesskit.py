"""Kit for the permission matrix (tests/test_access_matrix.py): an oracle that reads the access
config straight from the YAML files (independently of app.access), and a world of users, teams
and records to check it against.

The oracle knows only the documented semantics (app/meta/access.py): a role's grant on an entity
is its `default`, overridden key by key by the entity's `permissions:` entry; scopes own < team
< subordinates < all reach records by their owner; sharing rules widen read (and, with
`access: edit`, edit) to the records they match; nothing is granted unless a grant says so; the
`admin` role may do everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from app.context import Context
from app.expr.parser import parse
from app.meta.checks import expr_kinds
from app.model.access import user_teams
from app.records import Records
from app.records.change import Actor
from app.users import create_user

ADMIN = "admin"
SCOPED = ("read", "edit", "delete")
FLAGS = ("create", "export", "import", "merge")
#: situations of a record relative to the user who looks at it (by who owns it)
SITUATIONS = ("own", "team", "subordinate", "unrelated")


# --- the oracle ------------------------------------------------------------------------------
@dataclass
class Oracle:
    """The access config as the YAML says it."""

    roles: list[str]
    reports_to: dict[str, str | None]
    defaults: dict[str, dict[str, Any]]
    #: entity -> role -> its `permissions:` entry
    perms: dict[str, dict[str, dict[str, Any]]]
    teams: list[str]
    sharing: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, config: Path) -> Oracle:
        conf = yaml.safe_load(config.read_text(encoding="utf-8"))
        folder = config.parent / str(conf.get("schemas", "schemas"))
        reports: dict[str, str | None] = {}
        defaults: dict[str, dict[str, Any]] = {}
        perms: dict[str, dict[str, dict[str, Any]]] = {}
        teams: list[str] = []
        sharing: dict[str, dict[str, Any]] = {}
        for path in sorted(folder.glob("*.yaml")):
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if "access" in doc:
                access = doc["access"] or {}
                for name, body in (access.get("roles") or {}).items():
                    reports[name] = (body or {}).get("reports_to")
                    defaults[name] = dict((body or {}).get("default") or {})
                teams += list(access.get("teams") or {})
                sharing.update(access.get("sharing") or {})
            elif "entity" in doc:
                perms[doc["entity"]] = {r: dict(g) for r, g in
                                        (doc.get("permissions") or {}).items()}
        return cls(list(conf["roles"]), reports, defaults, perms, sorted(teams), sharing)

    @property
    def entities(self) -> list[str]:
        # emails are written only by the email service (app/comms), never by a plain create
        return sorted(e for e in self.perms if e not in SERVICE_ONLY)

    def grant(self, role: str, entity: str) -> dict[str, Any]:
        """action -> scope or flag, every action present."""
        if role == ADMIN:
            return {**dict.fromkeys(SCOPED, "all"), **dict.fromkeys(FLAGS, True)}
        merged = {**dict.fromkeys(SCOPED, "none"), **dict.fromkeys(FLAGS, False)}
        merged.update({k: v for k, v in self.defaults.get(role, {}).items() if k in merged})
        own = self.perms[entity].get(role, {})
        merged.update({k: v for k, v in own.items() if k in merged})
        return merged

    def hidden(self, role: str, entity: str) -> list[str]:
        if role == ADMIN:
            return []
        return list(self.perms[entity].get(role, {}).get("hidden", ()))

    def below(self, role: str) -> set[str]:
        out: set[str] = set()
        while True:
            more = {r for r, up in self.reports_to.items() if up == role or up in out} - out
            if not more:
                return out
            out |= more


# --- the world -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    code: str
    id: int
    role: str
    teams: frozenset[str]

    @property
    def password(self) -> str:
        return f"pw-{self.code}-matrix"

    def actor(self) -> Actor:
        return Actor(self.id, self.code, (self.role,))


@dataclass
class Rec:
    entity: str
    id: int
    owner: Person
    title: str
    values: dict[str, Any]
    #: field -> (entity, id) of the records it links to
    links: dict[str, tuple[str, int]] = field(default_factory=dict)

    def titled(self, title_field: str | None) -> bool:
        """Whether pages show this record's marker title (not so where the title is a
        formula of picklists, like a consent's "marketing · email")."""
        return bool(title_field) and self.title in str(self.values.get(str(title_field), ""))


@dataclass
class World:
    ctx: Context
    oracle: Oracle
    records: Records
    people: dict[str, Person]
    #: role -> the person of that role who acts in the matrix
    actors: dict[str, Person]
    #: role -> situation -> the owner whose records are in that situation for the actor
    situations: dict[str, dict[str, Person]]
    recs: list[Rec]
    by_id: dict[tuple[str, int], Rec]
    #: sharing rule -> {(entity, id) of records it matches}
    matched: dict[str, set[tuple[str, int]]]

    # --- verdicts --------------------------------------------------------------------------
    def relation(self, who: Person, owner: Person) -> str:
        if who.id == owner.id:
            return "own"
        if who.teams & owner.teams:
            return "team"
        if owner.role in self.oracle.below(who.role):
            return "subordinate"
        return "unrelated"

    def reaches(self, scope: str, who: Person, owner: Person) -> bool:
        rel = SITUATIONS.index(self.relation(who, owner))
        return {"none": False, "own": rel <= 0, "team": rel <= 1, "subordinates": rel <= 2,
                "all": True}[scope]

    def rule_reaches(self, who: Person, rec: Rec, action: str) -> bool:
        if action == "delete":
            return False
        for name, rule in self.oracle.sharing.items():
            if action == "edit" and rule.get("access", "read") != "edit":
                continue
            shared = who.role in (rule.get("roles") or ()) \
                or who.teams & set(rule.get("teams") or ())
            if shared and (rec.entity, rec.id) in self.matched[name]:
                return True
        return False

    def may(self, who: Person, rec: Rec, action: str) -> bool:
        """May `who` read / edit / delete this record?"""
        scope = self.oracle.grant(who.role, rec.entity)[action]
        if scope == "none":
            return False
        return self.reaches(scope, who, rec.owner) or self.rule_reaches(who, rec, action)

    def outcome(self, who: Person, rec: Rec, action: str) -> str:
        """The records service's answer: ok, forbidden (may see it, or may not do that to any
        such record), notfound (may not see it either)."""
        if self.may(who, rec, action):
            return "ok"
        grant = self.oracle.grant(who.role, rec.entity)
        if action == "read":
            return "forbidden" if grant["read"] == "none" else "notfound"
        if grant[action] == "none" or self.may(who, rec, "read"):
            return "forbidden"
        return "notfound"

    def readable(self, who: Person, entity: str) -> set[int]:
        return {r.id for r in self.recs if r.entity == entity and self.may(who, r, "read")}

    def of(self, entity: str) -> list[Rec]:
        return [r for r in self.recs if r.entity == entity]

    def probes(self, role: str, entity: str) -> list[tuple[str, Rec]]:
        """(situation, record) pairs to try: one record per situation, and every variant of it
        (records a sharing rule matches or not)."""
        out = []
        for situation, owner in self.situations[role].items():
            out += [(situation, r) for r in self.of(entity) if r.owner.id == owner.id]
        return out

    def link_titles(self, recs: Iterable[Rec]) -> set[str]:
        """Titles of the records `recs` link to (a lookup shows its target's title)."""
        return {self.by_id[t].title for r in recs for t in r.links.values() if t in self.by_id}


def creation_order(records: Records, entities: Iterable[str]) -> list[str]:
    """Entities with the ones they link to first (links that would close a loop are left)."""
    todo = list(entities)
    deps = {e: {str(f.opt("to")) for f in records.entity(e) if f.type in LINK_TYPES}
            - {e} for e in todo}
    order: list[str] = []
    while todo:
        ready = [e for e in todo if deps[e] <= set(order)] or [todo[0]]
        for e in ready:
            todo.remove(e)
            order.append(e)
    return order


LINK_TYPES = ("lookup", "master_detail")


def entry_values(records: Records, entity: str, title: str, mine: Mapping[str, int],
                 *, only_required: bool = False
                 ) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
    """Values that make a valid record whose title contains `title`, linked to the records in
    `mine` (entity -> id) it may link to (only the required ones, or that a rule needs)."""
    e = records.entity(entity)
    values: dict[str, Any] = {}
    tf = e.fields[e.title] if e.title else None
    if tf is not None and tf.type == "string":
        values[tf.name] = title
    else:  # a formula title: fill the required text fields it is built from
        for f in e:
            if f.required and f.type == "string":
                values[f.name] = title
    for f in e:
        if f.required and f.type == "string" and f.name not in values:
            values[f.name] = title
    links: dict[str, tuple[str, int]] = {}
    for f in e:
        to = str(f.opt("to"))
        needed = f.required or f.type == "master_detail" or f.name in RULE_LINKS.get(entity, ())
        if f.type in LINK_TYPES and to != entity and to in mine and (needed or not only_required):
            values[f.name] = mine[to]
            links[f.name] = (to, mine[to])
    return values, links


#: entities only a service writes (left out of the matrix)
SERVICE_ONLY = frozenset({"email"})
#: values an entity of the default pack needs beyond its required text (one sales target per
#: person: the rep it is for is its owner)
SPECIAL: dict[str, Any] = {"sales_target": lambda owner, month=1: {
    "metric": "won_deals", "period_type": "month", "period_start": f"2026-{month:02d}-01",
    "assignee": owner.id, "target_count": 5}}


def special(entity: str, owner: Person, month: int = 1) -> dict[str, Any]:
    """SPECIAL's values for a record of `entity` owned by `owner` (a target for `month`)."""
    make = SPECIAL.get(entity)
    return make(owner, month) if make else {}


#: links a validation rule of the default pack needs (campaign members: a contact or a lead)
RULE_LINKS = {"campaign_member": ("contact",)}


def build(ctx: Context, records: Records, folder: Path) -> World:
    """Users (one acting user per role, a team mate, a subordinate, an unrelated user) and,
    for every one of them, a record of every entity they own, created as the system."""
    oracle = Oracle.load(folder / "config.yaml")
    people: dict[str, Person] = {}
    plain = [r for r in oracle.roles if r != ADMIN]
    team_of = {r: oracle.teams[i % len(oracle.teams)] for i, r in enumerate(plain)}
    loner_role = next(r for r in plain if not oracle.reports_to.get(r))

    def person(code: str, role: str, team: str | None) -> Person:
        with ctx.engine.begin() as conn:
            uid = create_user(conn, code, f"pw-{code}-matrix", [role], ctx.settings.roles,
                              full_name=f"Person {code}")
            if team:
                conn.execute(sa.insert(user_teams).values(user_id=uid, team=team))
        p = Person(code, uid, role, frozenset([team] if team else []))
        people[code] = p
        return p

    actors: dict[str, Person] = {}
    situations: dict[str, dict[str, Person]] = {}
    n = 0
    loner = person("u00", loner_role, None)
    for role in oracle.roles:
        n += 1
        actors[role] = person(f"u{n:02d}", role, team_of.get(role))
        situations[role] = {"own": actors[role]}
    for role in plain:
        n += 1
        situations[role]["team"] = person(f"u{n:02d}", role, team_of[role])
        direct = sorted(r for r, up in oracle.reports_to.items() if up == role)
        if direct:
            n += 1
            situations[role]["subordinate"] = person(f"u{n:02d}", direct[0], None)
    for role in oracle.roles:
        situations[role]["unrelated"] = loner

    order = creation_order(records, oracle.entities)
    recs: list[Rec] = []
    vias = {(r["entity"], r["via"]): r for r in oracle.sharing.values() if r.get("via")}
    targets: dict[tuple[str, str], int] = {}
    for (entity, via), rule in vias.items():  # a record each rule's `when` matches
        to = str(records.entity(entity).fields[via].opt("to"))
        made = records.create(to, {**entry_values(records, to, f"{to}-u00v", {})[0],
                                   **MATCHING.get(rule["when"], {}), "owner": loner.id})
        recs.append(Rec(to, made["id"], loner, f"{to}-u00v", made))
        targets[(entity, via)] = made["id"]
    for code in sorted(people):
        owner = people[code]
        mine: dict[str, int] = {}
        for entity in order:
            variants = [("p", None)] + [("v", (via, t)) for (e, via), t in targets.items()
                                        if e == entity]
            moves = [MOVES[str(r["when"])] for r in oracle.sharing.values()
                     if r["entity"] == entity and not r.get("via") and str(r["when"]) in MOVES]
            variants += [("m", None)] if moves else []  # one the rule on itself matches
            for variant, extra in variants:
                title = f"{entity}-{code}{variant}"
                values, links = entry_values(records, entity, title, mine)
                if extra is not None:
                    to = str(records.entity(entity).fields[extra[0]].opt("to"))
                    values[extra[0]] = extra[1]
                    links[extra[0]] = (to, extra[1])
                values.update(special(entity, owner))
                made = records.create(entity, {**values, "owner": owner.id})
                for step in moves[0] if variant == "m" else ():
                    made = records.update(entity, made["id"], step)
                recs.append(Rec(entity, made["id"], owner, title, made, links))
                mine.setdefault(entity, made["id"])
    matched = {name: rule_matches(records, rule, recs) for name, rule in oracle.sharing.items()}
    return World(ctx, oracle, records, people, actors, situations, recs,
                 {(r.entity, r.id): r for r in recs}, matched)


#: values that make the default pack's sharing rules match (the rule vip_cases: a VIP account)
MATCHING: dict[str, dict[str, Any]] = {"vip == true": {"vip": True}}
#: updates (as the system, in order) that make a sharing rule on the record itself match
#: (published_kb_articles: an article published through its stage machine)
MOVES: dict[str, list[dict[str, Any]]] = {
    "status == 'published'": [{"status": "in_review"}, {"status": "published"}]}


def rule_matches(records: Records, rule: Mapping[str, Any], recs: list[Rec]
                 ) -> set[tuple[str, int]]:
    """Records a sharing rule matches, by evaluating its `when` in Python on the stored values
    (of the record, or of the record its `via` points to)."""
    entity = str(rule["entity"])
    target = entity
    if rule.get("via"):
        target = str(records.entity(entity).fields[str(rule["via"])].opt("to"))
    expr = parse(str(rule["when"]), expr_kinds(records.entity(target), records.registry))
    out: set[tuple[str, int]] = set()
    for r in recs:
        if r.entity != entity:
            continue
        if rule.get("via"):
            linked = r.values.get(str(rule["via"]))
            if linked is None:
                continue
            values = records.get(target, int(linked))
        else:
            values = r.values
        if expr.evaluate(values) is True:
            out.add((r.entity, r.id))
    return out
