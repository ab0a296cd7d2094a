"""The hand-written baseline of the view benchmarks (bench/views.py): a minimal Flask +
SQLAlchemy app over the same database, with the queries a programmer would write by hand for
the opportunity list and detail pages, rendered with two small Jinja templates."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Flask, abort, render_template, request
from jinja2 import DictLoader

STAGES = {"prospecting": "Prospecting", "qualification": "Qualification",
          "needs_analysis": "Needs analysis", "proposal": "Proposal",
          "negotiation": "Negotiation", "won": "Won", "lost": "Lost"}
BASE_LIST = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Opportunities</title></head><body><h1>Opportunities</h1>
<p>{{ count }}{{ '+' if count > 10000 else '' }} records</p>
<table><thead><tr><th>Opportunity name</th><th>Account</th><th>Stage</th><th>Amount</th>
<th>Probability (%)</th><th>Close date</th><th>Owner</th></tr></thead><tbody>
{% for r in rows %}<tr data-id="{{ r.id }}">
<td><a href="/opportunity/{{ r.id }}">{{ r.name }}</a></td>
<td><a href="/account/{{ r.account_id }}">{{ r.account_name }}</a></td>
<td>{{ stages.get(r.stage, r.stage or '') }}</td><td>{{ money(r.amount) }}</td>
<td>{{ pct(r.probability) }}</td><td>{{ r.close_date or '' }}</td><td>{{ r.owner_name or '' }}</td>
</tr>{% endfor %}</tbody></table>
{% if next %}<a id="page-next" href="{{ next }}">Next</a>{% endif %}</body></html>"""
BASE_DETAIL = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ o.name }}</title></head><body><h1 id="record-title">{{ o.name }}</h1>
<p>{{ stages.get(o.stage, o.stage or '') }}</p><dl>
<dt>Account</dt><dd><a href="/account/{{ o.account_id }}">{{ o.account_name }}</a></dd>
<dt>Primary contact</dt><dd>{{ o.contact_name or '-' }}</dd>
<dt>Campaign</dt><dd>{{ o.campaign_name or '-' }}</dd>
<dt>Amount</dt><dd>{{ money(o.amount) }}</dd><dt>Probability</dt><dd>{{ pct(o.probability) }}</dd>
<dt>Expected revenue</dt><dd>{{ money(o.amount * o.probability / 100
  if o.amount is not none and o.probability is not none else none) }}</dd>
{% for k in ('close_date', 'type', 'lead_source', 'next_step', 'loss_reason', 'description') %}
<dt>{{ k }}</dt><dd>{{ o[k] if o[k] is not none else '-' }}</dd>{% endfor %}
<dt>Owner</dt><dd>{{ o.owner_name }}</dd><dt>Created</dt><dd>{{ o.created_at }} {{ o.creator }}</dd>
<dt>Last changed</dt><dd>{{ o.updated_at }} {{ o.updater }}</dd></dl>
{% for name, rows in related %}<h2>{{ name }} ({{ rows|length }})</h2><table>
{% for r in rows %}<tr><td><a href="/{{ name }}/{{ r.id }}">{{ r.title }}</a></td>
{% for v in r[2:] %}<td>{{ v if v is not none else '' }}</td>{% endfor %}</tr>{% endfor %}</table>
{% endfor %}<h2>Timeline</h2><ul>
{% for ev in events %}<li>{{ ev.at }} {{ ev.who }}: {{ ev.what }}
{% if ev.changes %}<ul>{% for k, v in ev.changes.items() %}<li>{{ k }}: {{ v[-1] }}</li>
{% endfor %}</ul>{% endif %}</li>
{% endfor %}</ul><h2>Attachments</h2><ul>{% for a in files %}<li>{{ a.name }}</li>{% endfor %}</ul>
</body></html>"""
#: related lists of the detail page: (entity, link column, title column, 3 summary columns)
RELATED = (("quote", "opportunity_id", "name", ("number", "status", "valid_until")),
           ("lead", "converted_opportunity_id", "company", ("status", "rating",
                                                            "annual_revenue")),
           ("activity", "related_opportunity_id", "subject", ("kind", "status", "due_at")),
           ("note", "related_opportunity_id", "title", ("related_account_id",
                                                        "related_contact_id",
                                                        "related_lead_id")))


class Tables:
    """The tables the baseline reads, reflected from the database (as a hand-written app
    might declare them), on a plain `create_engine` of its own."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)
        md = sa.MetaData()
        self.t = {n: sa.Table(n, md, autoload_with=self.engine) for n in (
            "ent_opportunity", "ent_account", "ent_contact", "ent_campaign", "ent_quote",
            "ent_lead", "ent_activity", "ent_note", "sys_user", "sys_audit", "sys_attachment")}
        o = self.t["ent_opportunity"]
        # SQLite: `+` keeps the planner off the deleted_at index (as app.records.query.live)
        self.live = sa.literal_column("+ent_opportunity.deleted_at").is_(None) \
            if self.engine.dialect.name == "sqlite" else o.c.deleted_at.is_(None)

    def list_page(self, after: tuple[date, int] | None = None) -> tuple[list[Any], int]:
        """51 rows (50 and one to know there is a next page) with the account's and owner's
        names, newest close date first, after the keyset `after`; and the count capped at
        10,001, as the list page shows it."""
        o, acc, u = self.t["ent_opportunity"], self.t["ent_account"], self.t["sys_user"]
        stmt = (sa.select(o.c.id, o.c.name, o.c.account_id, acc.c.name.label("account_name"),
                          o.c.stage, o.c.amount, o.c.probability, o.c.close_date,
                          sa.func.coalesce(u.c.full_name, u.c.username).label("owner_name"))
                .select_from(o.outerjoin(acc, acc.c.id == o.c.account_id)
                             .outerjoin(u, u.c.id == o.c.owner_id))
                .where(self.live).order_by(o.c.close_date.desc(), o.c.id.desc()).limit(51))
        if after is not None:
            day, rid = after
            stmt = stmt.where(o.c.close_date <= day, sa.or_(o.c.close_date < day, o.c.id < rid))
        with self.engine.connect() as conn:
            rows = list(conn.execute(stmt).all())
            count = conn.execute(sa.select(sa.func.count()).select_from(
                sa.select(o.c.id).where(self.live).limit(10_001).subquery())).scalar_one()
        return rows, int(count)


def baseline_app(url: str) -> Flask:
    """A minimal hand-written app: no sign-in, no i18n, no filter panel or navigation; the
    list page's query and the detail page's reads written directly in SQLAlchemy Core."""
    tables = Tables(url)
    engine, t = tables.engine, tables.t
    o, acc, u = t["ent_opportunity"], t["ent_account"], t["sys_user"]
    app = Flask("baseline")
    app.jinja_loader = DictLoader({"list.html": BASE_LIST, "detail.html": BASE_DETAIL})
    helpers = {"stages": STAGES, "money": lambda v: "" if v is None else f"¥{v:,.2f}",
               "pct": lambda v: "" if v is None else f"{v:g}%"}

    @app.get("/opportunity/")
    def opportunities() -> str:
        after = request.args.get("after", "")
        try:
            key = (date.fromisoformat(after[:10]), int(after[11:])) if after else None
        except ValueError:
            abort(400)
        rows, count = tables.list_page(key)
        last = rows[49] if len(rows) > 50 else None
        nxt = f"/opportunity/?after={last.close_date}.{last.id}" if last else None
        return render_template("list.html", rows=rows[:50], count=min(count, 10_000),
                               next=nxt, **helpers)

    @app.get("/opportunity/<int:record_id>")
    def opportunity(record_id: int) -> str:
        con, camp = t["ent_contact"], t["ent_campaign"]
        owner, creator, updater = u.alias("owner"), u.alias("creator"), u.alias("updater")
        stmt = (sa.select(o, acc.c.name.label("account_name"),
                          (sa.func.coalesce(con.c.first_name, "") + " " + con.c.last_name)
                          .label("contact_name"), camp.c.name.label("campaign_name"),
                          owner.c.full_name.label("owner_name"),
                          creator.c.full_name.label("creator"),
                          updater.c.full_name.label("updater"))
                .select_from(o.outerjoin(acc, acc.c.id == o.c.account_id)
                             .outerjoin(con, con.c.id == o.c.primary_contact_id)
                             .outerjoin(camp, camp.c.id == o.c.campaign_id)
                             .outerjoin(owner, owner.c.id == o.c.owner_id)
                             .outerjoin(creator, creator.c.id == o.c.created_by_id)
                             .outerjoin(updater, updater.c.id == o.c.updated_by_id))
                .where(o.c.id == record_id, o.c.deleted_at.is_(None)))
        a, f = t["sys_audit"], t["sys_attachment"]
        with engine.connect() as conn:
            rec = conn.execute(stmt).first()
            if rec is None:
                abort(404)
            related = []
            for name, link, title, cols in RELATED:
                child = t[f"ent_{name}"]
                related.append((name, conn.execute(
                    sa.select(child.c.id, child.c[title].label("title"),
                              *(child.c[c] for c in cols))
                    .where(child.c[link] == record_id, child.c.deleted_at.is_(None))
                    .order_by(child.c.id.desc()).limit(11)).all()))
            events = [{"at": r.at, "who": r.full_name, "what": r.action, "changes": r.changes}
                      for r in conn.execute(
                          sa.select(a, u.c.full_name).outerjoin(u, u.c.id == a.c.user_id)
                          .where(a.c.entity == "opportunity", a.c.record_id == record_id)
                          .order_by(a.c.id.desc()))]
            for name, link, title, _cols in RELATED[2:]:  # the timeline's activities, notes
                child = t[f"ent_{name}"]
                events += [{"at": r.created_at, "who": r.full_name, "what": r.title,
                            "changes": None} for r in conn.execute(
                    sa.select(child.c.created_at, child.c[title].label("title"), u.c.full_name)
                    .outerjoin(u, u.c.id == child.c.created_by_id)
                    .where(child.c[link] == record_id, child.c.deleted_at.is_(None))
                    .order_by(child.c.id.desc()).limit(50))]
            files = conn.execute(sa.select(f).where(
                f.c.entity == "opportunity", f.c.record_id == record_id,
                f.c.deleted_at.is_(None))).all()
        events.sort(key=lambda ev: str(ev["at"]), reverse=True)
        return render_template("detail.html", o=rec, related=related, events=events[:50],
                               files=files, **helpers)

    app.extensions["bench_engine"] = engine
    return app
