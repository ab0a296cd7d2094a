"""What the default pack's demo records look like: Chinese and English companies, people, deals,
cases and the rest, consistent with each other and with the rules in `schemas/`.

Builders write rows keyed by *field* name (address blocks by their expanded names such as
`billing_city`), lookups as `Ref`s, plus `created_at`. `app.demo` fits them to the meta.
About 60% of companies and people are Chinese (Faker `zh_CN`), the rest American (`en_US`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from faker import Faker

from app import demo_words as words
from app.demo import USER, Ref, choice_values
from app.fields.choices import choices_of
from app.meta.types import Meta

T = TypeVar("T")
Row = dict[str, Any]


@dataclass
class Ctx:
    """Shared state of one generation run: random sources, `now`, and what was built so far."""

    meta: Meta
    rnd: random.Random
    zh: Faker
    en: Faker
    now: datetime
    scale: int
    rows: dict[str, list[Row]] = field(default_factory=dict)
    #: per account: language, short name, domain, city tuple, billing address
    accounts: list[dict[str, Any]] = field(default_factory=list)
    #: per contact: language and display name
    people: list[dict[str, Any]] = field(default_factory=list)
    contacts_of: dict[int, list[int]] = field(default_factory=dict)

    def n(self, base: int) -> int:
        return max(1, round(base * self.scale))

    def pick(self, seq: Sequence[T]) -> T:
        return seq[self.rnd.randrange(len(seq))]

    def weighted(self, weights: Mapping[str, float]) -> str:
        return self.rnd.choices(list(weights), weights=list(weights.values()))[0]

    def chance(self, p: float) -> bool:
        return self.rnd.random() < p

    def created(self, after: datetime | None = None) -> datetime:
        """A creation time in the last 18 months (after `after` when given)."""
        start = max(after or self.now - timedelta(days=548), self.now - timedelta(days=548))
        span = max((self.now - start).total_seconds(), 60.0)
        return start + timedelta(seconds=self.rnd.uniform(0, span))

    def money(self, low: int, high: int, step: int = 1000) -> Decimal:
        return Decimal(self.rnd.randrange(low, high + 1, step)).quantize(Decimal("0.01"))

    def extra(self, entity: str, fname: str, value: str, key: str, default: Any) -> Any:
        """An extra attribute of a picklist choice in the meta (a stage's `probability`)."""
        e = self.meta.entities.get(entity)
        for c in choices_of(e.fields[fname]) if e and fname in e.fields else ():
            if c.value == value:
                return c.extra.get(key, default)
        return default

    def has(self, entity: str, fname: str, value: str) -> bool:
        e = self.meta.entities.get(entity)
        return bool(e and fname in e.fields and value in choice_values(e.fields[fname]))


def build_all(ctx: Ctx) -> dict[str, list[Row]]:
    """Rows for every entity of the default pack, built in dependency order."""
    from app.demo_contracts import BUILDERS as CONTRACTS
    from app.demo_service import BUILDERS as SERVICE

    for name, builder in (
        ("product", products), ("account", accounts), ("contact", contacts),
        ("campaign", campaigns), ("opportunity", opportunities), ("lead", leads),
        ("campaign_member", campaign_members), ("quote", quotes),
        ("quote_line", lambda c: c.rows["quote_line"]),  # built with their quotes
        ("case", cases), ("activity", activities), ("note", notes), *CONTRACTS, *SERVICE,
    ):
        ctx.rows[name] = builder(ctx)
    return ctx.rows


# --- people, companies, places ---------------------------------------------------------------


def address(ctx: Ctx, prefix: str, lang: str, city: tuple[str, ...] | None = None) -> Row:
    if lang == "zh":
        c = city or ctx.pick(words.ZH_CITIES)
        street = f"{ctx.zh.district()}区{ctx.zh.street_name()}{ctx.rnd.randint(1, 999)}号"
        parts = {"street": street, "city": c[0], "province": c[1], "postal_code": c[2],
                 "country": "CN"}
    else:
        parts = {"street": ctx.en.street_address(), "city": ctx.en.city(),
                 "province": ctx.en.state_abbr(), "postal_code": ctx.en.zipcode(), "country": "US"}
    return {f"{prefix}_{k}": v for k, v in parts.items()}


def uscc(ctx: Ctx, region: str) -> str:
    body = "".join(ctx.pick(words.USCC_ALPHABET) for _ in range(9))
    return words.with_uscc_check(f"91{region}{body}")


def person(ctx: Ctx, lang: str, domain: str | None = None) -> Row:
    """Name, job, email and phones of one person."""
    r = ctx.rnd
    if lang == "zh":
        female = ctx.chance(0.45)
        first = ctx.zh.first_name_female() if female else ctx.zh.first_name_male()
        last, job = ctx.zh.last_name(), ctx.pick(words.ZH_JOBS)
        user = ctx.zh.user_name()
        return {"first_name": first, "last_name": last, "display": last + first,
                "salutation": "ms" if female else "mr", "title": job[0], "department": job[1],
                "email": f"{user}@{domain or ctx.pick(('163.com', 'qq.com', '126.com'))}",
                "mobile": words.zh_mobile(ctx),
                "wechat": f"wxid_{user}{r.randint(10, 99)}" if ctx.chance(0.7) else None}
    female = ctx.chance(0.45)
    first = ctx.en.first_name_female() if female else ctx.en.first_name_male()
    last, job = ctx.en.last_name(), ctx.pick(words.EN_JOBS)
    local = f"{first}.{last}".lower().replace("'", "")
    return {"first_name": first, "last_name": last, "display": f"{first} {last}",
            "salutation": ctx.pick(("ms", "mrs")) if female else ctx.pick(("mr",) * 9 + ("dr",)),
            "title": job[0], "department": job[1],
            "email": f"{local}@{domain or ctx.pick(('gmail.com', 'outlook.com', 'yahoo.com'))}",
            "mobile": words.zh_mobile(ctx) if ctx.chance(0.15) else None, "wechat": None}


def company(ctx: Ctx, lang: str, industry: str, used: set[str]) -> dict[str, Any]:
    """A company name, its short name, web domain and home city."""
    for _ in range(50):
        if lang == "zh":
            city = ctx.pick(words.ZH_CITIES)
            short = ctx.zh.company_prefix()
            name = city[0].rstrip("市") + short + ctx.pick(words.ZH_SUFFIX[industry])
            word = ctx.zh.first_romanized_name().lower() + words.DOMAIN_WORD[industry]
            domain = word + ctx.pick((".com.cn", ".cn", ".com"))
        else:
            city, short, word = words.NO_CITY, ctx.en.last_name(), ctx.pick(words.EN_WORD[industry])
            name = f"{short} {word} {ctx.pick(('Inc.', 'LLC', 'Corp.', 'Group'))}"
            domain = f"{short.lower()}{word.split()[0].lower()}.com"
        if name not in used:
            used.add(name)
            return {"name": name, "short": short, "domain": domain, "city": city}
    raise RuntimeError("could not find an unused company name")


def text(ctx: Ctx, lang: str, zh: Sequence[str], en: Sequence[str], **values: Any) -> str:
    return ctx.pick(zh if lang == "zh" else en).format(**values)


# --- entities ----------------------------------------------------------------------------------


def products(ctx: Ctx) -> list[Row]:
    """The catalogue: 20 products whatever the scale (a catalogue does not grow with volume)."""
    rows = []
    for i, (code, name, family, unit, price, cost) in enumerate(words.PRODUCTS):
        rows.append({
            "name": name, "code": code, "family": family, "unit": unit,
            "unit_price": Decimal(price).quantize(Decimal("0.01")),
            "cost_price": Decimal(cost).quantize(Decimal("0.01")),
            "active": i not in (8, 19),
            "tax_rate": Decimal(13 if family in ("software", "hardware") else 6),
            "description": f"{name} ({code})",
            "created_at": ctx.now - timedelta(days=540 - i),
        })
    return rows


def accounts(ctx: Ctx) -> list[Row]:
    rows: list[Row] = []
    used: set[str] = set()
    for i in range(ctx.n(40)):
        lang = "zh" if ctx.chance(0.6) else "en"
        industry = ctx.weighted(words.INDUSTRY_WEIGHTS)
        kind = ctx.weighted({"customer": 50, "prospect": 30, "partner": 15, "competitor": 5})
        parent = None
        if i >= 10 and ctx.chance(0.15):  # a branch of an earlier account of the same language
            same = [j for j, a in enumerate(ctx.accounts) if a["lang"] == lang and not a["branch"]]
            parent = ctx.pick(same) if same else None
        if parent is not None:
            p = ctx.accounts[parent]
            city = ctx.pick(words.ZH_CITIES) if lang == "zh" else words.NO_CITY
            suffix = f"{city[0].rstrip('市')}分公司" if lang == "zh" else f" ({ctx.en.city()})"
            co = {**p, "name": p["name"] + suffix, "city": city}
            industry = rows[parent]["industry"]
        else:
            co = company(ctx, lang, industry, used)
        employees = ctx.pick((ctx.rnd.randint(15, 200), ctx.rnd.randint(200, 2000),
                              ctx.rnd.randint(2000, 60000)))
        revenue = ctx.money(employees * 300_000, employees * 1_500_000, 10_000)
        vip = kind == "customer" and employees > 1000 and ctx.chance(0.6)
        state_owned = lang == "zh" and industry in ("energy", "government")
        tags = [t for t, ok in (("key_account", vip), ("strategic", ctx.chance(0.1)),
                                ("listed", employees > 5000 and ctx.chance(0.5)),
                                ("smb", employees < 200), ("channel", kind == "partner"),
                                ("state_owned", state_owned)) if ok]
        billing = address(ctx, "billing", lang, co["city"] if lang == "zh" else None)
        shipping = {k.replace("billing_", "shipping_"): v for k, v in billing.items()}
        if ctx.chance(0.25):
            shipping = address(ctx, "shipping", lang)
        created = ctx.created(rows[parent]["created_at"] if parent is not None else None)
        row: Row = {
            "name": co["name"], "type": kind, "industry": industry,
            "rating": ctx.weighted({"hot": 2, "warm": 3, "cold": 2}),
            "parent": Ref("account", parent) if parent is not None else None,
            "website": f"https://www.{co['domain']}", "email": f"info@{co['domain']}",
            "phone": words.phone(ctx, lang, co["city"][3] or "010"),
            "employees": employees, "annual_revenue": revenue, "vip": vip, "tags": tags,
            "unified_social_credit_code": uscc(ctx, co["city"][4]) if lang == "zh" else None,
            "description": text(ctx, lang, *words.ACCOUNT_NOTES, s=co["short"],
                                c=billing["billing_city"]) if ctx.chance(0.4) else None,
            "created_at": created, **billing, **shipping,
        }
        rows.append(row)
        ctx.accounts.append({**co, "lang": lang, "branch": parent is not None, "kind": kind})
    return rows


def contacts(ctx: Ctx) -> list[Row]:
    accts = ctx.rows["account"]
    weight = {"customer": 3.0, "partner": 2.0, "prospect": 1.5, "competitor": 0.3}
    total = ctx.n(100)
    owners = list(range(min(len(accts), total)))
    owners += ctx.rnd.choices(range(len(accts)), k=total - len(owners),
                              weights=[weight[a["kind"]] for a in ctx.accounts])
    rows: list[Row] = []
    for i, a in enumerate(owners):
        acc = ctx.accounts[a]
        lang = acc["lang"] if ctx.chance(0.9) else ("en" if acc["lang"] == "zh" else "zh")
        p = person(ctx, lang, acc["domain"])
        first = ctx.contacts_of.setdefault(a, [])
        first.append(i)
        mailing = {k.replace("billing_", "mailing_"): v for k, v in accts[a].items()
                   if k.startswith("billing_")} if ctx.chance(0.5) else {
            "mailing_country": "CN" if lang == "zh" else "US"}
        age_days = ctx.rnd.randint(24 * 365, 60 * 365)
        rows.append({
            **{k: p[k] for k in ("salutation", "first_name", "last_name")},
            "account": Ref("account", a), "title": p["title"], "department": p["department"],
            "email": p["email"], "mobile": p["mobile"],
            "phone": words.phone(ctx, lang, acc["city"][3] or "010") if ctx.chance(0.7) else None,
            "wechat": p["wechat"],
            "id_number": words.cn_id_number(i, (ctx.now - timedelta(days=age_days)).date())
            if lang == "zh" and i % 3 == 0 else None,  # encrypted when stored (app/crypto.py)
            "reports_to": Ref("contact", first[0]) if len(first) > 1 and ctx.chance(0.6) else None,
            "birthday": (ctx.now - timedelta(days=age_days)).date() if ctx.chance(0.5) else None,
            "preferred_language": "zh_CN" if lang == "zh" else "en",
            "lead_source": ctx.weighted(words.SOURCES), "do_not_call": ctx.chance(0.05),
            "email_opt_out": ctx.chance(0.08),
            "description": text(ctx, lang, ("关键决策人，偏好微信沟通。", "负责项目的技术评估。"),
                                ("Key decision maker.", "Evaluates the technical fit."))
            if ctx.chance(0.2) else None,
            "created_at": ctx.created(accts[a]["created_at"]), **mailing,
        })
        ctx.people.append({"lang": lang, "display": p["display"], "account": a})
    return rows


def campaigns(ctx: Ctx) -> list[Row]:
    year = ctx.now.year
    plans = (  # name zh/en, type, status, start offset (days from now), length, budget
        (f"{year - 1} 数字化转型峰会（上海）", "event", "completed", -300, 2, 300_000),
        ("Webinar: The Modern Sales Playbook", "webinar", "completed", -120, 0, 20_000),
        ("微信公众号春季推广", "social", "active", -20, 60, 80_000),
        ("Customer Nurture Email Series", "email", "active", -45, 90, 15_000),
        ("中国国际工业博览会", "trade_show", "planned", 45, 4, 450_000),
    )
    rows = []
    for i in range(ctx.n(5)):
        name, kind, status, offset, length, budget = plans[i % len(plans)]
        if i >= len(plans):  # more of the same kinds, at other times in the last 16 months
            name, offset = f"{name} #{i // len(plans) + 1}", ctx.rnd.randint(-480, 60)
            status = ("planned" if offset > 0 else "active" if offset + length >= 0
                      else "completed")
        start = (ctx.now + timedelta(days=offset)).date()
        spent = {"completed": ctx.rnd.uniform(0.8, 1.05), "active": ctx.rnd.uniform(0.3, 0.6)}
        rows.append({
            "name": name, "type": kind, "status": status, "start_date": start,
            "end_date": start + timedelta(days=length), "budget": ctx.money(budget, budget, 1),
            "actual_cost": ctx.money(int(budget * spent[status]) // 100 * 100,
                                     int(budget * spent[status]) // 100 * 100, 1)
            if status in spent else None,
            "expected_revenue": ctx.money(budget * 4, budget * 10, 10_000),
            "description": name,
            "created_at": min(ctx.now, datetime.combine(start, datetime.min.time(), ctx.now.tzinfo)
                              - timedelta(days=30)),
        })
    return rows



def opportunities(ctx: Ctx) -> list[Row]:
    sellable = [i for i, a in enumerate(ctx.accounts) if a["kind"] != "competitor"]
    rows = []
    for _ in range(ctx.n(80)):
        a = ctx.rnd.choices(sellable, weights=[3 if ctx.accounts[i]["kind"] == "customer" else 1
                                               for i in sellable])[0]
        acc, stage = ctx.accounts[a], ctx.weighted(words.STAGES)
        created = ctx.created(ctx.rows["account"][a]["created_at"])
        if stage in ("won", "lost"):  # closed: a close date between creation and today
            span = max((ctx.now - created).days - 1, 1)
            days = ctx.rnd.randint(min(14, span), span)
            close: date | None = min((created + timedelta(days=days)).date(), ctx.now.date())
        elif ctx.chance(0.85):
            close = (ctx.now + timedelta(days=ctx.rnd.randint(7, 180))).date()
        else:
            close = None
        needs_amount = stage in ("proposal", "negotiation", "won", "lost") or ctx.chance(0.6)
        contacts = ctx.contacts_of.get(a, [])
        customer = acc["kind"] == "customer"
        started = [i for i, c in enumerate(ctx.rows["campaign"])
                   if c["start_date"] < created.date()]
        low, high = ctx.pick((30_000, 100_000, 300_000)), ctx.pick((500_000, 2_000_000))
        rows.append({
            "name": f"{acc['short']} - "
                    f"{text(ctx, acc['lang'], words.ZH_PROJECTS, words.EN_PROJECTS)}",
            "account": Ref("account", a),
            "primary_contact": Ref("contact", ctx.pick(contacts))
            if contacts and ctx.chance(0.9) else None,
            "stage": stage,
            "amount": ctx.money(low, high) if needs_amount else None,
            "probability": Decimal(ctx.extra("opportunity", "stage", stage, "probability", 10)),
            "close_date": close,
            "type": ctx.weighted({"existing_business": 5, "renewal": 2, "new_business": 3})
            if customer else "new_business",
            "lead_source": ctx.weighted(words.SOURCES),
            "campaign": Ref("campaign", ctx.pick(started)) if started and ctx.chance(0.3) else None,
            "next_step": text(ctx, acc["lang"], *words.NEXT_STEPS) if stage not in ("won", "lost")
            else None,
            "loss_reason": ctx.weighted({"price": 4, "competitor": 4, "no_budget": 3,
                                         "no_decision": 2, "product_fit": 1, "timing": 1})
            if stage == "lost" else None,
            "description": None, "created_at": created,
        })
    return rows


def leads(ctx: Ctx) -> list[Row]:
    statuses = {"new": 12, "working": 14, "nurturing": 8, "qualified": 8, "unqualified": 8,
                "converted": 10}
    convertible = [i for i, o in enumerate(ctx.rows["opportunity"]) if o["primary_contact"]]
    ctx.rnd.shuffle(convertible)
    used: set[str] = {a["name"] for a in ctx.accounts}
    rows = []
    for _ in range(ctx.n(60)):
        status = ctx.weighted(statuses)
        if status == "converted" and convertible and ctx.has("lead", "status", "converted"):
            o = convertible.pop()
            opp = ctx.rows["opportunity"][o]
            c = opp["primary_contact"].row
            contact, who = ctx.rows["contact"][c], ctx.people[c]
            converted_at = opp["created_at"]
            rows.append({
                "first_name": contact["first_name"], "last_name": contact["last_name"],
                "company": ctx.rows["account"][opp["account"].row]["name"],
                "title": contact["title"], "email": contact["email"], "mobile": contact["mobile"],
                "phone": contact["phone"], "wechat": contact["wechat"], "status": "converted",
                "source": opp["lead_source"], "rating": "hot",
                "industry": ctx.rows["account"][opp["account"].row]["industry"],
                "converted": True, "converted_at": converted_at,
                "converted_account": opp["account"], "converted_contact": Ref("contact", c),
                "converted_opportunity": Ref("opportunity", o),
                "description": text(ctx, who["lang"], ("已转化为商机。",), ("Converted.",)),
                "created_at": converted_at - timedelta(days=ctx.rnd.randint(3, 60)),
            })
            continue
        status = "qualified" if status == "converted" else status
        lang = "zh" if ctx.chance(0.6) else "en"
        industry = ctx.weighted(words.INDUSTRY_WEIGHTS)
        co = company(ctx, lang, industry, used)
        p = person(ctx, lang, co["domain"])
        employees = ctx.rnd.randint(10, 5000) if ctx.chance(0.6) else None
        rows.append({
            "first_name": p["first_name"], "last_name": p["last_name"], "company": co["name"],
            "title": p["title"], "email": p["email"], "mobile": p["mobile"],
            "phone": words.phone(ctx, lang, co["city"][3] or "010") if ctx.chance(0.5) else None,
            "wechat": p["wechat"], "status": status, "source": ctx.weighted(words.SOURCES),
            "rating": ctx.weighted({"hot": 1, "warm": 3, "cold": 3}), "industry": industry,
            "employees": employees,
            "annual_revenue": ctx.money(employees * 200_000, employees * 1_000_000, 10_000)
            if employees else None,
            "converted": False,
            "description": text(ctx, lang, ("预算不足，明年再联系。", "已选择其他供应商。"),
                                ("No budget this year.", "Went with another vendor."))
            if status == "unqualified" else None,
            "created_at": ctx.created(),
            **(address(ctx, "address", lang, co["city"] if lang == "zh" else None)
               if ctx.chance(0.6) else {"address_country": "CN" if lang == "zh" else "US"}),
        })
    return rows


def campaign_members(ctx: Ctx) -> list[Row]:
    rows = []
    for ci, camp in enumerate(ctx.rows["campaign"]):
        planned = camp["status"] == "planned"
        start = datetime.combine(camp["start_date"], datetime.min.time(), ctx.now.tzinfo)
        known = min(start, ctx.now)  # members are people the CRM knew when the campaign started
        reachable = [("contact", i) for i, c in enumerate(ctx.rows["contact"])
                     if not c["email_opt_out"] and c["created_at"] < known]
        reachable += [("lead", i) for i, ld in enumerate(ctx.rows["lead"])
                      if ld["status"] != "converted" and ld["created_at"] < known]
        size = ctx.rnd.randint(8, 12) if planned else ctx.rnd.randint(15, 30)
        picks = ctx.rnd.sample(reachable, k=min(len(reachable), size))
        for kind, i in picks:
            sent = None if planned else min(start + timedelta(hours=ctx.rnd.randint(1, 72)),
                                            ctx.now)
            status = None if planned else ctx.weighted(
                {"sent": 5, "opened": 6, "responded": 4, "bounced": 1, "unsubscribed": 1})
            src = ctx.rows[kind][i]
            responded = (min(sent + timedelta(hours=ctx.rnd.randint(1, 240)), ctx.now)
                         if sent and status == "responded" else None)
            rows.append({
                "campaign": Ref("campaign", ci),
                "contact": Ref("contact", i) if kind == "contact" else None,
                "lead": Ref("lead", i) if kind == "lead" else None,
                "member_name": f"{src['last_name']}{src['first_name']}"
                if words.is_zh(src["last_name"]) else f"{src['first_name']} {src['last_name']}",
                "status": status, "sent_at": sent, "responded_at": responded,
                "created_at": min(known, max(camp["created_at"], src["created_at"])),
            })
    return rows


def quotes(ctx: Ctx) -> list[Row]:
    by_stage = {"won": "accepted", "negotiation": ("sent", "approved", "pending_approval"),
                "proposal": ("draft", "pending_approval", "sent", "rejected"), "lost": "declined"}
    opps = [i for i, o in enumerate(ctx.rows["opportunity"]) if o["stage"] in by_stage]
    ctx.rnd.shuffle(opps)
    rows, lines = [], []
    active = [i for i, p in enumerate(ctx.rows["product"]) if p["active"]]
    for q, o in enumerate(opps[: ctx.n(15)]):
        opp = ctx.rows["opportunity"][o]
        choice = by_stage[opp["stage"]]
        status = choice if isinstance(choice, str) else ctx.pick(choice)
        lang = ctx.accounts[opp["account"].row]["lang"]
        created = min(ctx.now, opp["created_at"] + timedelta(days=ctx.rnd.randint(2, 20)))
        discount = Decimal(ctx.pick((0, 0, 0, 5, 10, 15, 20, 25) if q % 7 else (35,)))
        approved = status in ("approved", "sent", "accepted", "declined") and discount >= 20
        rows.append({
            "name": f"{opp['name']} {'报价' if lang == 'zh' else 'Quote'} V{ctx.rnd.randint(1, 3)}",
            "opportunity": Ref("opportunity", o), "account": opp["account"],
            "contact": opp["primary_contact"], "status": status,
            "valid_until": (created + timedelta(days=30)).date(),
            "currency": "CNY" if lang == "zh" else ctx.pick(("CNY", "USD")), "discount": discount,
            "approved_at": created + timedelta(hours=ctx.rnd.randint(2, 48)) if approved else None,
            "terms": "报价有效期30天；付款方式：合同签订后支付50%，验收后支付50%。" if lang == "zh"
            else "Valid for 30 days. Payment: 50% on signature, 50% on acceptance. Net 30.",
            "created_at": created,
        })
        for sort in range(ctx.rnd.randint(1, 6)):
            pi = ctx.pick(active)
            p = ctx.rows["product"][pi]
            qty = {"license": (10, 500), "hour": (8, 200), "month": (3, 24), "set": (1, 3),
                   "piece": (1, 50)}[p["unit"]]
            lines.append({
                "quote": Ref("quote", q), "product": Ref("product", pi),
                "description": p["name"], "quantity": Decimal(ctx.rnd.randint(*qty)),
                "unit_price": p["unit_price"], "sort_order": (sort + 1) * 10,
                "line_discount": Decimal(ctx.pick((0, 0, 0, 5, 10))), "created_at": created,
            })
    ctx.rows["quote_line"] = lines
    return rows



def cases(ctx: Ctx) -> list[Row]:
    custs = [i for i, a in enumerate(ctx.accounts) if a["kind"] in ("customer", "partner")] or [0]
    rows = []
    for _ in range(ctx.n(40)):
        a = ctx.pick(custs)
        lang, kind = ctx.accounts[a]["lang"], ctx.weighted(
            {"question": 4, "problem": 5, "feature_request": 2, "complaint": 2, "billing": 1})
        status = ctx.weighted({"new": 5, "in_progress": 8, "waiting": 5, "escalated": 3,
                               "resolved": 9, "closed": 10})
        priority = ctx.weighted({"low": 8, "medium": 15, "high": 10, "urgent": 4})
        is_open = status not in ("resolved", "closed")
        created = (ctx.now - timedelta(hours=ctx.rnd.randint(1, 24 * 10)) if is_open
                   else ctx.created(ctx.rows["account"][a]["created_at"]))
        sla = created + timedelta(hours=words.SLA_HOURS[priority])
        hours = words.SLA_HOURS[priority] * ctx.rnd.uniform(0.2, 1.4)
        resolved = None if is_open else min(ctx.now, created + timedelta(hours=hours))
        contacts = ctx.contacts_of.get(a, [])
        subject = ctx.pick(words.CASE_SUBJECTS[kind][0 if lang == "zh" else 1])
        rows.append({
            "subject": subject, "account": Ref("account", a),
            "contact": Ref("contact", ctx.pick(contacts)) if contacts else None,
            "product": Ref("product", ctx.rnd.randrange(len(ctx.rows["product"])))
            if ctx.chance(0.6) else None,
            "status": status, "priority": priority, "type": kind,
            "origin": ctx.weighted({"phone": 4, "email": 4, "web": 3, "walk_in": 1,
                                    "wechat": 4 if lang == "zh" else 0}),
            "sla_due_at": sla, "resolved_at": resolved,
            "satisfaction": ctx.rnd.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 4, 5))[0]
            if status == "closed" and ctx.chance(0.7) else None,
            "description": f"<p>{subject}</p><p>{text(ctx, lang, *words.CASE_DETAILS)}</p>",
            "resolution": None if is_open else text(ctx, lang, *words.RESOLUTIONS),
            "created_at": created,
        })
    return rows


def _related(ctx: Ctx) -> tuple[str, Row, datetime]:
    """What an activity or note is about: a deal (with account and contact), a lead or a case."""
    kind = ctx.weighted({"opportunity": 55, "account": 15, "lead": 15, "case": 15})
    if kind in ("opportunity", "account"):
        o = ctx.rnd.randrange(len(ctx.rows["opportunity"]))
        opp = ctx.rows["opportunity"][o]
        a = opp["account"].row
        rel: Row = {"related_account": opp["account"], "related_contact": opp["primary_contact"],
                    "related_opportunity": Ref("opportunity", o) if kind == "opportunity" else None}
        return ctx.accounts[a]["lang"], rel, opp["created_at"]
    i = ctx.rnd.randrange(len(ctx.rows[kind]))
    row = ctx.rows[kind][i]
    if kind == "lead":
        lang = "zh" if words.is_zh(row["company"]) else "en"
        return lang, {"related_lead": Ref("lead", i)}, row["created_at"]
    acc = row["account"]
    rel = {"related_case": Ref("case", i), "related_account": acc,
           "related_contact": row["contact"]}
    return ctx.accounts[acc.row]["lang"], rel, row["created_at"]



def activities(ctx: Ctx) -> list[Row]:
    rows = []
    today = datetime.combine(ctx.now.date(), datetime.min.time(), ctx.now.tzinfo)
    for _ in range(ctx.n(150)):
        lang, rel, since = _related(ctx)
        kind = ctx.weighted({"task": 35, "call": 30, "meeting": 20, "email": 15})
        when = ctx.weighted({"past": 55, "overdue": 12, "today": 10, "future": 23})
        if when == "past":
            start = max(since, ctx.now - timedelta(days=365))
            due = start + timedelta(seconds=ctx.rnd.uniform(0, max((ctx.now - start).total_seconds()
                                                                  - 86400, 3600)))
            status = ctx.weighted({"done": 9, "cancelled": 1})
        elif when == "overdue":
            due, status = ctx.now - timedelta(hours=ctx.rnd.randint(24, 24 * 20)), ctx.weighted(
                {"planned": 3, "in_progress": 1})
        elif when == "today":
            due, status = today + timedelta(hours=ctx.rnd.randint(1, 22)), "planned"
        else:
            due, status = ctx.now + timedelta(hours=ctx.rnd.randint(24, 24 * 30)), "planned"
        due = due.replace(minute=ctx.pick((0, 15, 30, 45)), second=0, microsecond=0)
        remind = (due - timedelta(minutes=ctx.pick((15, 30, 60, 1440)))
                  if status in ("planned", "in_progress") and ctx.chance(0.5) else None)
        base = ctx.pick(words.SUBJECTS[kind][0 if lang == "zh" else 1])
        rows.append({
            "subject": base, "kind": kind, "status": status,
            "priority": ctx.weighted({"low": 2, "normal": 6, "high": 2}),
            "due_at": due, "reminder_at": remind,
            "duration_minutes": {"call": ctx.rnd.randint(5, 45),
                                 "meeting": ctx.pick((30, 60, 90, 120))}.get(kind),
            "assigned_to": Ref(USER, 0),
            "location": text(ctx, lang, ("客户办公室", "腾讯会议", "公司三楼会议室"),
                             ("Client office", "Zoom", "Room 3B")) if kind == "meeting" else None,
            "call_result": ctx.weighted({"connected": 6, "left_voicemail": 2, "no_answer": 2,
                                         "busy": 1, "wrong_number": 0.3})
            if kind == "call" and status == "done" else None,
            "description": None,
            "created_at": min(due, ctx.now) - timedelta(days=ctx.rnd.randint(1, 10)),
            **rel,
        })
    return rows


def notes(ctx: Ctx) -> list[Row]:
    titles = (("客户关注价格", "决策链分析", "竞品情况", "会议纪要"),
              ("Price sensitive", "Decision makers", "Competitor landscape", "Meeting notes"))
    bodies = (("<p>客户对<strong>年度订阅</strong>价格比较敏感，建议提供阶梯折扣。</p>",
               "<ul><li>技术负责人支持</li><li>财务需要审批</li></ul>",
               "<p>对方同时在评估两家竞品，我们的优势在本地化服务。</p>"),
              ("<p>The customer is <strong>price sensitive</strong>; offer tiered pricing.</p>",
               "<ul><li>CTO is a champion</li><li>CFO signs off</li></ul>",
               "<p>They are also evaluating two competitors; our edge is local support.</p>"))
    rows = []
    for _ in range(ctx.n(30)):
        lang, rel, since = _related(ctx)
        k = 0 if lang == "zh" else 1
        rows.append({"title": ctx.pick(titles[k]), "body": ctx.pick(bodies[k]),
                     "pinned": ctx.chance(0.1), "created_at": ctx.created(since), **rel})
    return rows
