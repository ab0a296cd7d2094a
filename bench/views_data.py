"""Setup of the view benchmarks (bench/views.py), not timed: the default CRM pack published
to a fresh database, and realistic rows bulk-inserted with Core (COPY on PostgreSQL), as if they
had been made through the app: accounts, opportunities with their 'create' audit rows, and
activities and notes linked to random opportunities."""

from __future__ import annotations

import itertools
import json
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.context import Context

ROOT = Path(__file__).resolve().parents[1]
ROLES = ("admin", "sales_director", "sales_manager", "sales_rep", "service_manager",
         "service_agent", "marketing")  # config.yaml's roles (the access file names them)
ADMIN = ("admin", "admin-pass-1")
#: sales reps who own the records, besides admin
REPS = 19
BATCH = 20_000
#: every DELETED_EVERY-th opportunity is in the recycle bin
DELETED_EVERY = 97
START = datetime(2024, 1, 1, tzinfo=UTC)
WORDS = ("Nova", "Orion", "Apex", "Lumen", "Vertex", "Cobalt", "Summit", "Harbor", "Pioneer",
         "Quantum", "Granite", "Silver", "Maple", "Falcon", "Zenith", "Atlas")
KINDS = ("Software", "Systems", "Logistics", "Health", "Capital", "Energy", "Media", "Retail")
DEALS = ("CRM rollout", "Annual renewal", "Data platform", "Support plan", "Pilot project",
         "Hardware refresh", "Training package", "Cloud migration")


# -- setup ------------------------------------------------------------------------------------
def deploy(folder: Path, url: str) -> Context:
    """The default pack in `folder` (config.yaml + schemas), published to `url`, with admin
    and REPS sales reps (the same steps as tests/webkit.py's `deployment`)."""
    from app.meta.loader import load_meta
    from app.migrate.publish import publish
    from app.model.system import create_system_tables
    from app.settings import load_settings
    from app.users import create_user

    shutil.copytree(ROOT / "schemas", folder / "schemas")
    (folder / "config.yaml").write_text(
        f"schemas: schemas\nroles: [{', '.join(ROLES)}]\nmigrations: migrations\n"
        "login_rate_limit: 1000 per minute\n", encoding="utf-8")
    ctx = Context(load_settings(folder / "config.yaml", environ={
        "CRM_DATABASE_URL": url, "CRM_SECRET_KEY": "bench-secret"}))
    with ctx.engine.begin() as conn:
        create_system_tables(conn)
        create_user(conn, *ADMIN, ["admin"], ctx.settings.roles, full_name="Admin")
        for k in range(1, REPS + 1):
            create_user(conn, f"rep{k}", f"rep-pass-{k:04d}", ["sales_rep"], ctx.settings.roles,
                        full_name=f"{WORDS[k % len(WORDS)]} Rep {k}")
    publish(ctx.engine, load_meta([folder / "schemas"], ROLES))
    return ctx


def _insert(engine: sa.Engine, table: sa.Table, rows: Iterator[dict[str, Any]]) -> None:
    """COPY on PostgreSQL; executemany in batches of BATCH elsewhere."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            first = next(rows, None)
            if first is None:
                return
            names = ", ".join(f'"{c}"' for c in first)
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(
                    f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for row in itertools.chain([first], rows):
                    copy.write_row([json.dumps(v) if isinstance(v, dict) else v
                                    for v in row.values()])
            return
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)


def _system(rng: random.Random, users: int, days: int) -> dict[str, Any]:
    created = START + timedelta(seconds=rng.randrange(days * 86_400))
    owner = rng.randint(1, users)
    return {"version": 1, "created_at": created,
            "updated_at": created + timedelta(seconds=rng.randrange(30 * 86_400)),
            "created_by_id": owner, "updated_by_id": owner, "owner_id": owner}


@dataclass
class Data:
    rows: int
    accounts: int
    setup: float = 0.0


def load_data(ctx: Context, rows: int, seed: int = 7) -> Data:
    """N/100 accounts, `rows` opportunities (each with its 'create' audit row), N/10 activities
    and N/20 notes linked to random opportunities; then ANALYZE."""
    from app.meta.loader import load_meta
    from app.model.build import build_models
    from app.model.system import audit

    t0 = time.perf_counter()
    meta = load_meta(ctx.settings.schema_dirs, ctx.settings.roles)
    tables = build_models(meta, orm_classes=False).tables
    users = REPS + 1
    n_acc = max(1, rows // 100)
    opp = meta.entity("opportunity").fields
    stages = [(c.value, c.extra.get("probability", 0)) for c in opp["stage"].choices]
    sources = [c.value for c in opp["lead_source"].choices]
    reasons = [c.value for c in opp["loss_reason"].choices]
    acc_fields = meta.entity("account").fields
    names = [f"{WORDS[i % 16]} {KINDS[i // 16 % 8]} {i + 1}" for i in range(n_acc)]

    def accounts() -> Iterator[dict[str, Any]]:
        rng = random.Random(seed)
        for i in range(n_acc):
            yield {"id": i + 1, **_system(rng, users, 700), "name": names[i],
                   "account_number": f"ACC-{i + 1:07d}",
                   "type": rng.choice(acc_fields["type"].choices).value,
                   "industry": rng.choice(acc_fields["industry"].choices).value,
                   "billing_city": rng.choice(("Beijing", "Shanghai", "Shenzhen", "Hangzhou"))}

    def opportunities() -> Iterator[dict[str, Any]]:
        rng = random.Random(seed + 1)
        for i in range(1, rows + 1):
            acc = rng.randrange(n_acc)
            stage, prob = rng.choice(stages)
            row = _system(rng, users, 1000)
            yield {"id": i, **row, "deleted_at": row["updated_at"] if i % DELETED_EVERY == 0
                   else None,
                   "name": f"{names[acc]}: {DEALS[i % len(DEALS)]} {i}", "account_id": acc + 1,
                   "stage": stage, "amount": Decimal(rng.randrange(100_000, 50_000_000)) / 100,
                   "probability": Decimal(prob),
                   "close_date": date(2024, 1, 1) + timedelta(days=rng.randrange(1460)),
                   "type": rng.choice(("new_business", "existing_business", "renewal")),
                   "lead_source": rng.choice(sources),
                   "next_step": "Send the proposal" if i % 3 else None,
                   "loss_reason": rng.choice(reasons) if stage == "lost" else None}

    def audits() -> Iterator[dict[str, Any]]:
        for rec in opportunities():
            changes = {k: [None, str(rec[k]) if isinstance(rec[k], Decimal | date) else rec[k]]
                       for k in ("name", "stage", "amount", "probability", "close_date",
                                 "type", "lead_source", "next_step") if rec[k] is not None}
            changes["account"] = [None, rec["account_id"]]
            yield {"at": rec["created_at"], "user_id": rec["created_by_id"],
                   "entity": "opportunity", "record_id": rec["id"], "action": "create",
                   "changes": changes, "version": 1}

    def activities() -> Iterator[dict[str, Any]]:
        rng = random.Random(seed + 2)
        for i in range(1, rows // 10 + 1):
            opp_id = rng.randint(1, rows)
            row = _system(rng, users, 1000)
            yield {"id": i, **row, "subject": f"Call about deal {opp_id}",
                   "kind": rng.choice(("task", "call", "meeting", "email")),
                   "status": rng.choice(("planned", "done")), "priority": "normal",
                   "due_at": row["created_at"] + timedelta(days=3),
                   "assigned_to_id": row["owner_id"], "related_opportunity_id": opp_id,
                   "description": "Discussed pricing and next steps."}

    def notes() -> Iterator[dict[str, Any]]:
        rng = random.Random(seed + 3)
        for i in range(1, rows // 20 + 1):
            opp_id = rng.randint(1, rows)
            yield {"id": i, **_system(rng, users, 1000), "title": f"Note on deal {opp_id}",
                   "body": "<p>The customer asked for a <b>discount</b>.</p>", "pinned": False,
                   "related_opportunity_id": opp_id}

    engine = ctx.engine
    _insert(engine, tables["account"], accounts())
    _insert(engine, tables["opportunity"], opportunities())
    _insert(engine, audit, audits())
    _insert(engine, tables["activity"], activities())
    _insert(engine, tables["note"], notes())
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in ("ent_account", "ent_opportunity", "ent_activity", "ent_note"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"(SELECT coalesce(max(id), 1) FROM {name}))")
            conn.exec_driver_sql("VACUUM ANALYZE")  # else autovacuum may wake up mid-timing
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return Data(rows, n_acc, time.perf_counter() - t0)


def detail_ids(rows: int, n: int, seed: int = 11) -> list[int]:
    rng = random.Random(seed)
    ids: list[int] = []
    while len(ids) < n:
        i = rng.randint(1, rows)
        if i % DELETED_EVERY:
            ids.append(i)
    return ids
