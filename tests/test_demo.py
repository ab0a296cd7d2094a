"""The default CRM pack in `schemas/` and its demo data (`app.demo`).

The structure tests read the YAML with `yaml.safe_load` only. The rest load the real metadata
with `app.meta.loader.load_meta` and the real tables with `app.model.build.build_models`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from app.demo import COMPUTED_TYPES, REFERENCE_TYPES, Ref, column_name, generate, load_demo
from app.meta.types import IDENTIFIER, RESERVED_NAMES, Meta

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
HEADER = "# yaml-language-server: $schema=../app/meta/entity.schema.json"
#: the field types of docs/yaml-format.md
FIELD_TYPES = {
    "string", "text", "rich_text", "integer", "decimal", "currency", "percent", "boolean",
    "date", "datetime", "time", "email", "phone", "url", "picklist", "multi_picklist",
    "lookup", "master_detail", "user", "formula", "rollup", "autonumber", "file", "json", "tags",
}
NOW = datetime(2025, 6, 16, 9, 30, tzinfo=UTC)
EXPECTED = {  # rows at scale 1: (at least, at most); 2 accounts and 3 contacts entered twice
    "account": (42, 42), "contact": (103, 103), "lead": (60, 60), "opportunity": (80, 80),
    "activity": (150, 150), "case": (40, 40), "campaign": (5, 5), "campaign_member": (40, 150),
    "product": (20, 20), "quote": (15, 15), "quote_line": (15, 90), "note": (30, 30),
}


def _docs() -> dict[str, dict[str, Any]]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in sorted(SCHEMAS.glob("*.yaml")) if p.name != "_access.yaml"}


def _bilingual(labels: Any) -> bool:
    """Exactly an English and a Chinese text (an unquoted comma in `{en: a, b}` adds a key)."""
    return isinstance(labels, dict) and set(labels) == {"en", "zh"} and all(
        isinstance(v, str) and v for v in labels.values())


# --- the YAML as written -----------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.yaml")), ids=lambda p: p.name)
def test_file_starts_with_schema_line_and_purpose(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == (HEADER if path.name != "_access.yaml"
                        else HEADER.replace("entity.schema", "access.schema"))
    assert lines[1].startswith("# ") and len(lines[1]) > 20, "second line: what the file is for"


def test_presets() -> None:
    presets = _docs()["_presets"]["presets"]
    assert {"address", "mobile_cn"} <= set(presets)
    assert set(presets["address"]["fields"]) >= {"street", "city", "province", "postal_code",
                                                  "country"}
    assert re.fullmatch(presets["mobile_cn"]["pattern"], "13812345678")
    assert not re.fullmatch(presets["mobile_cn"]["pattern"], "12812345678")
    for preset in presets.values():
        for spec in preset.get("fields", {"": preset}).values():
            assert spec["type"] in FIELD_TYPES
            assert _bilingual(spec["label"])


def test_entities_are_well_formed() -> None:
    docs = _docs()
    presets = docs.pop("_presets")["presets"]
    problems: list[str] = []
    for name, doc in docs.items():
        fields: dict[str, dict[str, Any]] = doc["fields"]
        where = f"{name}.yaml"
        if doc["entity"] != name:
            problems.append(f"{where}: entity is {doc['entity']!r}")
        if not (_bilingual(doc.get("label")) and _bilingual(doc.get("plural"))):
            problems.append(f"{where}: label and plural need en and zh")
        if doc.get("title") not in fields:
            problems.append(f"{where}: title {doc.get('title')!r} is not a field")
        if not 8 <= len(fields) <= 25:
            problems.append(f"{where}: {len(fields)} fields")
        for fname, spec in fields.items():
            problems += _field_problems(name, fname, spec, presets, docs)
            if "help" in spec and not _bilingual(spec["help"]):
                problems.append(f"{where}: help of {fname}")
        for rule in doc.get("rules", []):
            if not (IDENTIFIER.match(rule["name"]) and rule["when"] and
                    _bilingual(rule["message"])):
                problems.append(f"{where}: rule {rule}")
            if rule.get("field") and rule["field"] not in fields:
                problems.append(f"{where}: rule {rule['name']} names {rule['field']}")
    assert problems == []


def _field_problems(entity: str, fname: str, spec: dict[str, Any], presets: dict[str, Any],
                    docs: dict[str, dict[str, Any]]) -> list[str]:
    out, where = [], f"{entity}.{fname}"
    if not IDENTIFIER.match(fname) or fname in RESERVED_NAMES:
        out.append(f"{where}: bad name")
    preset = presets.get(spec.get("preset", ""), {})
    ftype = spec.get("type", preset.get("type"))
    if ftype not in FIELD_TYPES and "fields" not in preset:
        out.append(f"{where}: type {ftype!r}")
    if not _bilingual(spec.get("label", preset.get("label"))):
        out.append(f"{where}: label needs en and zh")
    for choice in spec.get("choices", []) if ftype != "tags" else []:
        if not (isinstance(choice, dict) and choice.get("value") and _bilingual(choice["label"])):
            out.append(f"{where}: choice {choice}")
    if ftype in ("lookup", "master_detail") and spec.get("to") not in docs:
        out.append(f"{where}: lookup to {spec.get('to')!r}")
    if ftype == "rollup":
        child = docs.get(spec["entity"], {}).get("fields", {})
        via = child.get(spec["via"], {})
        if via.get("type") not in ("lookup", "master_detail") or via.get("to") != entity:
            out.append(f"{where}: rollup via {spec['via']!r}")
        if spec["op"] != "count" and spec.get("field") not in child:
            out.append(f"{where}: rollup field {spec.get('field')!r}")
    return out


def test_stages_carry_probability_and_colour() -> None:
    stage = _docs()["opportunity"]["fields"]["stage"]
    assert [c["value"] for c in stage["choices"]] == [
        "prospecting", "qualification", "needs_analysis", "proposal", "negotiation", "won", "lost"]
    assert [c["probability"] for c in stage["choices"]] == [10, 20, 30, 60, 80, 100, 0]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c["color"]) for c in stage["choices"])


# --- the loaded metadata and the demo rows -----------------------------------------------------


@pytest.fixture(scope="module")
def meta() -> Meta:
    try:
        from app.meta.loader import load_meta
    except Exception as exc:  # the loader is optional for this file: skip, with the reason
        pytest.skip(f"app.meta.loader is not importable: {type(exc).__name__}: {exc}")
    from tests.factories import ROLES

    return load_meta([SCHEMAS], ROLES)


@pytest.fixture(scope="module")
def rows(meta: Meta) -> dict[str, list[dict[str, Any]]]:
    return generate(meta, now=NOW)


def test_generate_is_deterministic(meta: Meta, rows: dict[str, list[dict[str, Any]]]) -> None:
    assert generate(meta, now=NOW) == rows
    other = generate(meta, seed=7, now=NOW)
    assert other["account"] != rows["account"]


def test_counts_and_mix(rows: dict[str, list[dict[str, Any]]]) -> None:
    for entity, (low, high) in EXPECTED.items():
        assert low <= len(rows[entity]) <= high, entity
    chinese = sum(bool(re.search("[\u4e00-\u9fff]", r["last_name"])) for r in rows["contact"])
    assert 45 <= chinese <= 75, "about 60% Chinese contacts"
    stages = {r["stage"] for r in rows["opportunity"]}
    assert stages == {"prospecting", "qualification", "needs_analysis", "proposal",
                      "negotiation", "won", "lost"}
    due = [r["due_at"] for r in rows["activity"] if r["status"] in ("planned", "in_progress")]
    assert any(d < NOW for d in due) and any(d.date() == NOW.date() for d in due)
    assert any(r["reminder_at"] for r in rows["activity"])
    created = [r["created_at"] for rs in rows.values() for r in rs]
    assert all(c.tzinfo is not None and c <= NOW for c in created)
    assert (NOW - min(created)).days <= 600
    assert rows["account"][0]["account_number"].startswith("ACC-")
    assert all(re.fullmatch(r"CASE-\d{4}-\d{5}", r["number"]) for r in rows["case"])


def test_every_value_fits_its_field(meta: Meta, rows: dict[str, list[dict[str, Any]]]) -> None:
    from app.fields import registry

    problems: list[str] = []
    for entity in meta:
        for i, row in enumerate(rows[entity.name]):
            for f in entity:
                if f.type in COMPUTED_TYPES:
                    continue
                value = row[column_name(f)]
                where = f"{entity.name}[{i}].{f.name}={value!r}"
                if f.required and value in (None, ""):
                    problems.append(f"{where}: required")
                if value is None or f.type in REFERENCE_TYPES:
                    if value is not None and not (isinstance(value, Ref) and (
                            value.entity == "user" or value.row < len(rows[value.entity]))):
                        problems.append(f"{where}: dangling reference")
                    continue
                ftype = registry.get(f.type)
                try:
                    value = ftype.to_python(f, value)
                    problems += [f"{where}: {p}" for p in ftype.validate(f, value)]
                except ValueError as exc:
                    problems.append(f"{where}: {exc}")
    assert problems == []


def test_scale_multiplies_volume_and_keeps_unique_values(meta: Meta) -> None:
    big = generate(meta, scale=2, now=NOW)
    assert len(big["account"]) == 82 and len(big["activity"]) == 300  # 2 entered twice
    assert len(big["product"]) == 20, "the catalogue does not grow with volume"
    for entity in meta:
        for f in entity:
            if f.unique or f.type == "autonumber":
                values = [r[f.name] for r in big[entity.name] if r[f.name] is not None]
                assert len(values) == len(set(values)), f"{entity.name}.{f.name}"


def test_an_overlay_that_changes_fields_still_generates(meta: Meta) -> None:
    from app.meta.types import Choice

    account = meta.entity("account")
    lead = meta.entity("lead")
    fields = {k: v for k, v in account.fields.items() if k != "rating"}
    fields["region"] = dataclasses.replace(account.fields["name"], name="region", unique=False)
    narrowed = dataclasses.replace(lead.fields["status"], options={
        **lead.fields["status"].options, "choices": (Choice("new"), Choice("working"))})
    changed = Meta(entities={
        **meta.entities,
        "account": dataclasses.replace(account, fields=fields),
        "lead": dataclasses.replace(lead, fields={**lead.fields, "status": narrowed}),
    })
    extra = dataclasses.replace(meta.entity("note"), name="visit_report", fields={
        "title": meta.entity("note").fields["title"],
        "account": dataclasses.replace(meta.entity("contact").fields["account"], required=True),
    }, rules=())
    changed = Meta(entities={**changed.entities, "visit_report": extra})
    out = generate(changed, now=NOW)
    assert len(out["visit_report"]) == 10
    assert all(r["title"] and isinstance(r["account_id"], Ref) for r in out["visit_report"])
    assert "rating" not in out["account"][0]
    assert all(r["region"] for r in out["account"])
    assert {r["status"] for r in out["lead"]} <= {"new", "working", None}


# --- loading into the database -----------------------------------------------------------------


def _published(engine: sa.Engine, meta: Meta) -> Any:
    """Create the tables the way the app does (publish), and return the version's models."""
    try:
        from app.migrate.publish import publish
        from app.model.build import build_models
    except Exception as exc:
        pytest.skip(f"app.model / app.migrate are not importable: {type(exc).__name__}: {exc}")
    publish(engine, meta)
    return build_models(meta)


@pytest.fixture
def loaded(engine: sa.Engine, meta: Meta) -> Iterator[tuple[Any, dict[str, int], int]]:
    models = _published(engine, meta)
    from app.model.system import users

    with engine.begin() as conn:
        uid = conn.execute(users.insert().values(username="demo", roles=["admin"])
                           .returning(users.c.id)).scalar_one()
        counts = load_demo(conn, meta, models.tables, owner_id=uid, now=NOW)
    yield models, counts, uid


def test_load_demo_counts_and_ids(engine: sa.Engine, meta: Meta, loaded: Any) -> None:
    models, counts, uid = loaded
    expected = {name: len(rs) for name, rs in generate(meta, now=NOW).items()}
    assert counts == expected
    with engine.connect() as conn:
        for name, table in models.tables.items():
            if name not in meta.entities:
                continue
            assert conn.scalar(sa.select(sa.func.count()).select_from(table)) == counts[name]
            assert conn.scalar(sa.select(sa.func.count()).where(table.c.owner_id != uid)) == 0
            for f in meta.entity(name):
                if f.type not in ("lookup", "master_detail"):
                    continue
                target = models.tables[f.opt("to")].alias("target")
                col = table.c[column_name(f)]
                dangling = sa.select(sa.func.count()).select_from(
                    table.outerjoin(target, col == target.c.id)).where(
                    col.is_not(None), target.c.id.is_(None))
                assert conn.scalar(dangling) == 0, f"{name}.{f.name}"
        account, contact = models.tables["account"], models.tables["contact"]
        assert conn.scalar(sa.select(sa.func.count()).where(account.c.parent_id.is_not(None)))
        assert conn.scalar(sa.select(sa.func.count()).where(contact.c.reports_to_id.is_not(None)))


def test_rollups_are_computed(engine: sa.Engine, loaded: Any) -> None:
    models, _, _ = loaded
    acc, opp = models.tables["account"], models.tables["opportunity"]
    quote, line = models.tables["quote"], models.tables["quote_line"]
    with engine.connect() as conn:
        open_by_account: dict[int, int] = {}
        won_by_account: dict[int, Decimal] = {}
        for account_id, stage, amount in conn.execute(
                sa.select(opp.c.account_id, opp.c.stage, opp.c.amount)):
            if stage not in ("won", "lost"):
                open_by_account[account_id] = open_by_account.get(account_id, 0) + 1
            if stage == "won":
                won_by_account[account_id] = won_by_account.get(account_id, 0) + Decimal(amount)
        for aid, open_count, won in conn.execute(
                sa.select(acc.c.id, acc.c.open_opportunities, acc.c.won_revenue)):
            assert open_count == open_by_account.get(aid, 0)
            assert Decimal(won).quantize(Decimal("0.01")) == won_by_account.get(aid, Decimal(0))
        for qid, subtotal, count in conn.execute(
                sa.select(quote.c.id, quote.c.subtotal, quote.c.line_count)):
            lines = conn.execute(sa.select(line.c.quantity, line.c.unit_price,
                                           line.c.line_discount).where(line.c.quote_id == qid))
            totals = [Decimal(q) * Decimal(p) * (100 - Decimal(d)) / 100 for q, p, d in lines]
            assert count == len(totals) >= 1
            assert abs(Decimal(subtotal) - sum(totals)) < Decimal("0.05")


def test_loaded_rows_keep_every_rule(engine: sa.Engine, meta: Meta, loaded: Any) -> None:
    """Rules, required_when and visible_when, checked in SQL over the loaded tables."""
    from app.expr import parse
    from app.fields import registry
    from app.meta.checks import expr_kinds

    models, _, _ = loaded
    broken: list[str] = []
    with engine.connect() as conn:
        for entity in meta:
            table = models.tables[entity.name]
            cols: dict[str, Any] = {f.name: table.c[column_name(f)] for f in entity
                                    if column_name(f) in table.c}
            cols.update(models.formulas[entity.name])
            kinds = expr_kinds(entity, registry)
            checks = [(f"rule {r.name}", r.when) for r in entity.rules]
            for f in entity:
                if f.required_when and f.name in cols:
                    checks.append((f"{f.name} required_when",
                                   f"({f.required_when}) and {f.name} == null"))
                if f.visible_when and f.name in cols:
                    checks.append((f"{f.name} visible_when",
                                   f"not ({f.visible_when}) and {f.name} != null"))
            for what, source in checks:
                cond = parse(source, kinds).to_sql(cols)
                n = conn.scalar(sa.select(sa.func.count()).select_from(table).where(cond))
                if n:
                    broken.append(f"{entity.name} {what}: {n} rows")
    assert broken == []


def test_autonumbers_continue_the_app_counters(engine: sa.Engine, meta: Meta) -> None:
    models = _published(engine, meta)
    from app.model.system import sequences

    scope = "ent_account.account_number:ACC-{00000}"
    with engine.begin() as conn:
        conn.execute(sequences.insert().values(scope=scope, value=100))
        counts = load_demo(conn, meta, models.tables, now=NOW)
    account = models.tables["account"]
    with engine.connect() as conn:
        numbers = sorted(conn.scalars(sa.select(account.c.account_number)))
        assert conn.scalar(sa.select(sequences.c.value).where(sequences.c.scope == scope)) == (
            100 + counts["account"])
    assert numbers[0] == "ACC-00101" and numbers[-1] == f"ACC-{100 + counts['account']:05d}"


def test_load_demo_leaves_the_transaction_to_the_caller(engine: sa.Engine, meta: Meta) -> None:
    models = _published(engine, meta)
    with engine.connect() as conn:
        trans = conn.begin()
        load_demo(conn, meta, models.tables, now=NOW)
        assert conn.in_transaction()
        trans.rollback()
        assert conn.scalar(sa.select(sa.func.count()).select_from(models.tables["account"])) == 0


def test_the_modules_have_demo_content(rows: dict[str, list[dict[str, Any]]]) -> None:
    """The knowledge base, surveys, consents and emails are filled with real text (not the
    generic pass's random words), and some customers are entered twice for the Duplicates
    page."""
    published = [r for r in rows["kb_article"] if r["status"] == "published"]
    assert len(published) >= 10 and {r["language"] for r in published} == {"zh", "en"}
    assert all(r["body"] and r["summary"] and r["category_id"] is not None for r in published)
    answered = [r for r in rows["survey_response"] if r["status"] == "answered"]
    assert answered and all(1 <= r["rating"] <= 5 for r in answered)
    assert {r["status"] for r in rows["consent"]} == {"granted", "withdrawn"}
    assert all(r["withdrawn_at"] for r in rows["consent"] if r["status"] == "withdrawn")
    assert rows["email"] and all(r["status"] == "sent" and "@" in r["to"] for r in rows["email"])
    emails = [str(r["email"]).lower() for r in rows["contact"] if r["email"]]
    assert len(emails) - len(set(emails)) == 2
    names = [str(r["name"]).lower() for r in rows["account"]]
    assert len(names) - len(set(names)) == 2
