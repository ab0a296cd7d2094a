"""The permission matrix, generated from the live config: every role of config.yaml x every
entity of the default pack x create / read / edit / delete / export x a record owned by the user
themself, a team mate, a subordinate and an unrelated user (and records a sharing rule matches),
checked through the records service, the REST API and the web pages. The expected verdicts come
from tests/accesskit.Oracle, which reads the YAML itself (not app.access). Every test gathers
all mismatches and shows them together, so one run names every leak and every wrong refusal."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.access.policy import role_grant
from app.records import Records
from app.records.change import SYSTEM
from app.records.errors import Forbidden, NotFound, RecordError, ValidationFailed
from app.records.query import ListQuery, run
from tests.accesskit import (
    SERVICE_ONLY,
    SITUATIONS,
    Person,
    Rec,
    World,
    build,
    entry_values,
    special,
)
from tests.apikit import token_for
from tests.webkit import deployment, records_of, sign_in, web_app

HTTP = {"ok": 200, "forbidden": 403, "notfound": 404, "invalid": 422}


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[tuple[World, Flask]]:
    ctx = deployment(tmp_path, database_url)
    try:
        app = web_app(ctx)
        yield build(ctx, records_of(app), tmp_path), app
    finally:
        ctx.dispose()


def service_as(app: Flask, who: Person) -> Records:
    base = records_of(app)
    return Records(base.engine, base.models, plugins=base.plugins, actor=who.actor())


def outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except Forbidden:
        return "forbidden"
    except NotFound:
        return "notfound"
    except ValidationFailed:
        return "invalid"
    return "ok"


def create_probe(w: World, who: Person, entity: str) -> tuple[dict[str, Any], str]:
    """Values for a new record linked to `who`'s own records, and the expected answer."""
    mine = {r.entity: r.id for r in reversed(w.recs) if r.owner.id == who.id}
    values, links = entry_values(w.records, entity, f"new-{who.code}-{entity}", mine,
                                 only_required=True)
    values.update(special(entity, who, month=2))  # not the month of their world target
    if not w.oracle.grant(who.role, entity)["create"]:
        return values, "forbidden"
    if any(not w.may(who, w.by_id[t], "read") for t in links.values()):
        return values, "invalid"  # a link only to a record the user may see
    return values, "ok"


def report(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems[:200])


# --- the world itself --------------------------------------------------------------------------
def test_the_world_covers_every_situation_and_the_oracle_reads_the_config(
        world: tuple[World, Flask]) -> None:
    w, app = world
    meta = records_of(app).meta
    problems = []
    assert set(w.oracle.roles) == set(meta.roles) and set(w.oracle.entities) == set(
        meta.entities) - SERVICE_ONLY
    for role, situations in w.situations.items():
        me = w.actors[role]
        wanted = {"own", "unrelated"} | ({"team"} if role != "admin" else set()) | (
            {"subordinate"} if w.oracle.below(role) else set())
        if set(situations) != wanted:
            problems.append(f"{role}: situations {sorted(situations)}, want {sorted(wanted)}")
        for situation, owner in situations.items():
            if w.relation(me, owner) != situation:
                problems.append(f"{role}: {owner.code} is {w.relation(me, owner)}, "
                                f"not {situation}")
        for entity in w.oracle.entities:  # the loader merges grants as the YAML says
            app_grant = role_grant(meta, role, meta.entities[entity])
            mine = w.oracle.grant(role, entity)
            theirs = {a: (app_grant.scope(a) if a in ("read", "edit", "delete")
                          else app_grant.allows(a)) for a in mine}
            if mine != theirs:
                problems.append(f"{role} x {entity}: YAML says {mine}, loader {theirs}")
    for name, found in w.matched.items():
        rule = w.oracle.sharing[name]
        count = len(w.of(rule["entity"]))
        if not 0 < len(found) < count:
            problems.append(f"sharing rule {name} matches {len(found)} of {count} records")
    report(problems)


# --- the records service -------------------------------------------------------------------
def test_matrix_through_the_records_service(world: tuple[World, Flask]) -> None:
    w, app = world
    system = records_of(app)
    problems: list[str] = []
    checked = 0
    for role, who in w.actors.items():
        rs = service_as(app, who)
        for entity in w.oracle.entities:
            where = f"{role} x {entity}"
            if w.oracle.grant(role, entity)["read"] == "none":
                if outcome(partial(run, rs, entity, ListQuery(page_size=500))) != "forbidden":
                    problems.append(f"{where}: list: not refused")
            else:
                ids = {r["id"] for r in run(rs, entity, ListQuery(page_size=500)).rows}
                want = w.readable(who, entity)
                if ids != want:
                    problems.append(f"{where}: list: leaks {_titles(w, entity, ids - want)}, "
                                    f"misses {_titles(w, entity, want - ids)}")
            for situation, rec in w.probes(role, entity):
                here = f"{where} x {situation} ({rec.title})"
                for action, call in (
                        ("read", partial(rs.get, entity, rec.id)),
                        ("edit", partial(rs.update, entity, rec.id, {}, who.actor())),
                        ("delete", partial(rs.delete, entity, rec.id, who.actor()))):
                    got, want_ = outcome(call), w.outcome(who, rec, action)
                    checked += 1
                    if got != want_:
                        problems.append(f"{here}: {action}: got {got}, want {want_}")
                    if action == "delete" and got == "ok":
                        system.restore(entity, rec.id, SYSTEM)
                if rs.permits(entity, rec.id, "read") != w.may(who, rec, "read"):
                    problems.append(f"{here}: permits(read) disagrees")
            values, want_ = create_probe(w, who, entity)
            made: dict[str, Any] = {}
            got = outcome(partial(_create_into, made, rs, entity, values, who))
            checked += 1
            if got != want_:
                problems.append(f"{where}: create: got {got}, want {want_}")
            if made:
                system.delete(entity, made["id"], SYSTEM)
    assert checked > len(w.actors) * len(w.oracle.entities) * len(SITUATIONS)
    report(problems)


def _create_into(made: dict[str, Any], rs: Records, entity: str, values: dict[str, Any],
                 who: Person) -> None:
    made.update(rs.create(entity, values, who.actor()))


def _titles(w: World, entity: str, ids: set[int]) -> list[str]:
    return sorted(w.by_id[(entity, i)].title if (entity, i) in w.by_id else f"#{i}"
                  for i in ids)


# --- the REST API ----------------------------------------------------------------------------
def test_matrix_through_the_api(world: tuple[World, Flask]) -> None:
    w, app = world
    system = records_of(app)
    api = app.test_client()
    problems: list[str] = []
    for role, who in w.actors.items():
        headers = token_for(w.ctx, who.code)
        for entity in w.oracle.entities:
            where = f"API {role} x {entity}"
            reads = w.oracle.grant(role, entity)["read"] != "none"
            listed = api.get(f"/api/v1/{entity}?limit=500", headers=headers)
            if not reads:
                if listed.status_code != 403:
                    problems.append(f"{where}: list: {listed.status_code}, want 403")
            elif listed.status_code != 200:
                problems.append(f"{where}: list: {listed.status_code}, want 200")
            else:
                ids = {r["id"] for r in listed.get_json()["data"]}
                want = w.readable(who, entity)
                if ids != want:
                    problems.append(f"{where}: list: leaks {_titles(w, entity, ids - want)}, "
                                    f"misses {_titles(w, entity, want - ids)}")
            for situation, rec in w.probes(role, entity):
                here = f"{where} x {situation} ({rec.title})"
                url = f"/api/v1/{entity}/{rec.id}"
                for action, send in (("read", partial(api.get, url, headers=headers)),
                                     ("edit", partial(api.patch, url, json={}, headers=headers)),
                                     ("delete", partial(api.delete, url, headers=headers))):
                    want_code = HTTP[w.outcome(who, rec, action)] if reads else 403
                    if action == "delete" and want_code == 200:
                        want_code = 204
                    resp = send()
                    if resp.status_code != want_code:
                        problems.append(f"{here}: {action}: {resp.status_code}, want {want_code}")
                    if resp.status_code == 204:
                        system.restore(entity, rec.id, SYSTEM)
                    if resp.status_code != 200 and rec.title in resp.text:
                        problems.append(f"{here}: {action}: the refusal shows the title")
            values, want_ = create_probe(w, who, entity)
            made = api.post(f"/api/v1/{entity}", json=values, headers=headers)
            want_code = {"ok": 201, "forbidden": 403, "invalid": 422}[want_] if reads else 403
            if made.status_code != want_code:
                problems.append(f"{where}: create: {made.status_code}, want {want_code}")
            if made.status_code == 201:
                system.delete(entity, made.get_json()["id"], SYSTEM)
    report(problems)


# --- the web pages ---------------------------------------------------------------------------
def client_for(app: Flask, who: Person) -> FlaskClient:
    c = app.test_client()
    sign_in(c, who.code, who.password)
    return c


def _leaks(w: World, text: str, who: Person, exempt: set[str]) -> list[str]:
    """Titles of records `who` may not read that appear in `text` (but those in `exempt`: a
    lookup shows the title of the record it points to)."""
    return sorted(r.title for r in w.recs if r.title in text and r.title not in exempt
                  and not w.may(who, r, "read"))


def _shown_links(w: World, rec: Rec, who: Person) -> set[str]:
    """Titles a detail page may show through lookups: its own, and those of the records in
    its related lists (readable records linking to it)."""
    key = (rec.entity, rec.id)
    children = [r for r in w.recs if key in r.links.values() and w.may(who, r, "read")]
    return w.link_titles([rec, *children])


def test_matrix_through_the_web_pages(world: tuple[World, Flask]) -> None:
    w, app = world
    problems: list[str] = []
    for role, who in w.actors.items():
        c = client_for(app, who)
        for entity in w.oracle.entities:
            where = f"web {role} x {entity}"
            grant = w.oracle.grant(role, entity)
            reads = grant["read"] != "none"
            readable = [r for r in w.of(entity) if w.may(who, r, "read")]
            title_field = w.records.entity(entity).title
            exempt = w.link_titles(readable)
            page = c.get(f"/{entity}/?size=500")
            if page.status_code != (200 if reads else 403):
                problems.append(f"{where}: list page {page.status_code}")
            elif reads:
                rows = {int(i) for i in re.findall(r'<tr data-id="(\d+)"', page.text)}
                missing = sorted(r.title for r in readable if r.id not in rows
                                 or (r.titled(title_field) and r.title not in page.text))
                leaks = _leaks(w, page.text, who, exempt) + sorted(
                    r.title for r in w.of(entity) if r.id in rows and not w.may(who, r, "read"))
                if missing or leaks:
                    problems.append(f"{where}: list page leaks {leaks}, misses {missing}")
            export = c.get(f"/{entity}/export.csv?cols={title_field}")
            want_export = 200 if reads and grant["export"] else 403
            if export.status_code != want_export:
                problems.append(f"{where}: export {export.status_code}, want {want_export}")
            elif want_export == 200:
                rows = list(csv.reader(io.StringIO(export.get_data(as_text=True)
                                                   .lstrip("\ufeff"))))[1:]
                got = sorted(row[0].strip() for row in rows)
                want = sorted(r.title.strip() if r.titled(title_field)
                              else str(r.values.get(str(title_field), "")).strip()
                              for r in readable)
                if got != want:
                    problems.append(f"{where}: export rows {got}, want {want}")
            for situation, rec in w.probes(role, entity):
                here = f"{where} x {situation} ({rec.title})"
                want_code = HTTP[w.outcome(who, rec, "read")]
                shown = c.get(f"/{entity}/{rec.id}")
                if shown.status_code != want_code:
                    problems.append(f"{here}: detail {shown.status_code}, want {want_code}")
                elif want_code == 200:
                    leaks = _leaks(w, shown.text, who, _shown_links(w, rec, who))
                    if (rec.titled(title_field) and rec.title not in shown.text) or leaks:
                        problems.append(f"{here}: detail page leaks {leaks}")
                elif rec.title in shown.text:
                    problems.append(f"{here}: the refusal page shows the title")
                # the edit form: only for a record they may edit; 404 when they may not see it
                want_edit = 403 if not reads else 404 if not w.may(who, rec, "read") else \
                    200 if w.may(who, rec, "edit") else 403
                form = c.get(f"/{entity}/{rec.id}/edit")
                if form.status_code != want_edit:
                    problems.append(f"{here}: edit form {form.status_code}, want {want_edit}")
    report(problems)


def test_global_search_finds_exactly_what_each_role_may_read(world: tuple[World, Flask]
                                                             ) -> None:
    w, app = world
    problems: list[str] = []
    clients = {role: client_for(app, who) for role, who in w.actors.items()}
    accept = {"Accept": "application/json"}

    def hits(c: FlaskClient, code: str) -> set[tuple[str, int]]:
        body = c.get(f"/search?q=-{code}", headers=accept).get_json()
        return {(g["entity"], h["id"]) for g in body["results"] for h in g["hits"]}

    searchable = 0
    for code in sorted(w.people):
        findable = hits(clients["admin"], code)  # what search finds at all
        searchable += len(findable)
        for role, who in w.actors.items():
            got = hits(clients[role], code)
            want = {k for k in findable if w.may(who, w.by_id[k], "read")}
            if got != want:
                problems.append(f"search {role} for {code}: leaks "
                                f"{sorted(w.by_id[k].title for k in got - want if k in w.by_id)}"
                                f", misses {sorted(w.by_id[k].title for k in want - got)}")
            html = clients[role].get(f"/search?q=-{code}").text
            leaks = _leaks(w, html, who, set())
            if leaks:
                problems.append(f"search page {role} for {code}: shows {leaks}")
    assert searchable >= len(w.people) * 5  # most entities are searchable by title
    report(problems)


# --- fields ----------------------------------------------------------------------------------
def test_hidden_fields_are_absent_everywhere(world: tuple[World, Flask]) -> None:
    w, app = world
    system = records_of(app)
    api = app.test_client()
    problems: list[str] = []
    cases = [(role, entity, name) for role in w.actors for entity in w.oracle.entities
             for name in w.oracle.hidden(role, entity)]
    assert cases, "the default pack hides some field from some role"
    for role, entity, name in cases:
        who = w.actors[role]
        where = f"{role} x {entity}.{name}"
        f = system.entity(entity).fields[name]
        rec = next(r for r in w.of(entity) if w.may(who, r, "read"))
        marker = _distinct_value(f.type)
        system.update(entity, rec.id, {name: marker}, SYSTEM)
        headers = token_for(w.ctx, who.code)
        body = api.get(f"/api/v1/{entity}/{rec.id}", headers=headers).get_json()
        if name in body:
            problems.append(f"{where}: in the API record")
        listed = api.get(f"/api/v1/{entity}?limit=500", headers=headers).get_json()["data"]
        if any(name in r for r in listed):
            problems.append(f"{where}: in the API list")
        bad = api.get(f"/api/v1/{entity}?f.{name}.eq=1", headers=headers)
        if bad.status_code != 400 or name not in bad.text:
            problems.append(f"{where}: API filter answers {bad.status_code}")
        patch = api.patch(f"/api/v1/{entity}/{rec.id}", json={name: 1}, headers=headers)
        want_patch = 422 if w.may(who, rec, "edit") else 403
        if patch.status_code != want_patch or (want_patch == 422 and name not in patch.text):
            problems.append(f"{where}: PATCH answers {patch.status_code}, want {want_patch}")
        if w.oracle.grant(role, entity)["create"]:
            values, _ = create_probe(w, who, entity)
            made = api.post(f"/api/v1/{entity}", json={**values, name: 1}, headers=headers)
            if made.status_code != 422 or name not in made.text:
                problems.append(f"{where}: POST answers {made.status_code}")
        if system.get(entity, rec.id)[name] != system.spec(entity).ftype(f).to_python(
                f, marker):
            problems.append(f"{where}: a request changed it")
        c = client_for(app, who)
        page = c.get(f"/{entity}/{rec.id}").text
        label = f.label_for("en")
        if label in page or f'data-field="{name}"' in page or str(marker) in page:
            problems.append(f"{where}: on the detail page")
        if c.get(f"/{entity}/?f.{name}.eq=1").status_code != 400:
            problems.append(f"{where}: list page filters by it")
        if w.oracle.grant(role, entity)["export"]:
            head = next(csv.reader(io.StringIO(c.get(f"/{entity}/export.csv")
                                               .get_data(as_text=True).lstrip("\ufeff"))))
            if label in head:
                problems.append(f"{where}: in the export headers")
            if c.get(f"/{entity}/export.csv?cols={name}").status_code != 400:
                problems.append(f"{where}: export of the column is not refused")
        # an admin sees it: the checks above can fail
        admin = api.get(f"/api/v1/{entity}/{rec.id}",
                        headers=token_for(w.ctx, w.actors["admin"].code))
        if name not in admin.get_json():
            problems.append(f"{where}: not even the admin sees it")
    report(problems)


def _distinct_value(kind: str) -> Any:
    return {"percent": 47.19, "decimal": 47.19, "currency": 4719.37, "integer": 4719}.get(
        kind, "hidden-4719")


# --- sharing rules ---------------------------------------------------------------------------
def test_sharing_rules_open_exactly_the_matching_records(world: tuple[World, Flask]) -> None:
    w, app = world
    problems: list[str] = []
    for name, rule in w.oracle.sharing.items():
        for role in rule.get("roles") or ():
            who = w.actors[role]
            rs = service_as(app, who)
            grant = w.oracle.grant(role, rule["entity"])
            for rec in w.of(rule["entity"]):
                if grant["read"] == "none":
                    break
                by_scope = w.reaches(grant["read"], who, rec.owner)
                want = by_scope or (rec.entity, rec.id) in w.matched[name]
                try:
                    rs.get(rec.entity, rec.id)
                    got = True
                except RecordError:
                    got = False
                if got != want:
                    problems.append(f"{name}: {role} reads {rec.title}: {got}, want {want}")
            unrelated = [r for r in w.of(rule["entity"]) if r.owner.code == "u00"]
            shown = {(r.entity, r.id) in w.matched[name]: w.may(who, r, "read")
                     for r in unrelated}
            if grant["read"] != "none" and shown != {True: True, False: False}:
                problems.append(f"{name}: {role}: unrelated matching / not matching: {shown}")
    report(problems)
