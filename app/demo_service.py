"""Demo knowledge base, consents, satisfaction surveys and logged emails for the default pack:
what a new user sees on /kb/, the consent report, the service dashboard's CSAT and a
customer's timeline. Without these the generic pass filled the entities with random words.

- a category tree (two top-level categories, their children) and articles in Chinese and
  English with a summary, a Markdown body and keywords, mostly published (revision 1);
- consents of about half the contacts (marketing and newsletter by email, WeChat for Chinese
  contacts), some withdrawn, each with a source and evidence;
- a survey for every closed case with a contact: answered (the case's satisfaction as the
  rating, a comment) or still waiting; the case's `survey_status` follows;
- emails sent from the CRM on deals and cases, to the contact's address, status sent.

The builders run after every other one (app/demo_values.py `build_all`) with a random source
of their own, so adding them left the other entities' demo rows as they were.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from app.demo import Ref
from app.demo_values import Ctx, Row

TEXTS = Path(__file__).with_suffix(".yaml")

#: (code, name in both languages, parent code, description)
CATEGORIES = (
    ("product", "产品使用 Product use", None, "Using the product day to day"),
    ("install", "安装与配置 Installation", "product", "Installing, upgrading, first set-up"),
    ("account", "账号与登录 Accounts & sign-in", "product", "Passwords, users, single sign-on"),
    ("data", "数据与集成 Data & integrations", "product", "Imports, exports, the API"),
    ("billing", "账单与合同 Billing & contracts", None, "Invoices, payments, renewals"),
    ("invoice", "发票 Invoices", "billing", "Fapiao, VAT invoices, corrections"),
    ("renewal", "续约与升级 Renewals", "billing", "Renewing, upgrading, cancelling"),
    ("service", "服务政策 Service policy", None, "Support hours, SLAs, warranty"),
)

#: articles (by index) left in draft or in review, and archived
NOT_PUBLISHED = {4: "in_review", 10: "draft", 15: "draft"}



@functools.cache
def texts() -> dict[str, Any]:
    """The articles, survey comments and emails of app/demo_service.yaml."""
    loaded: dict[str, Any] = yaml.safe_load(TEXTS.read_text(encoding="utf-8"))
    return loaded


def _rnd(ctx: Ctx) -> random.Random:
    found: random.Random | None = ctx.__dict__.get("_service_rnd")
    if found is None:
        found = ctx.__dict__["_service_rnd"] = random.Random(f"service:{ctx.now:%Y%m%d}")
    return found


def kb_categories(ctx: Ctx) -> list[Row]:
    codes = [c[0] for c in CATEGORIES]
    created = ctx.now - timedelta(days=400)
    return [{"code": code, "name": name, "description": description, "active": True,
             "parent": Ref("kb_category", codes.index(parent)) if parent else None,
             "sort_order": 10 * (i + 1), "created_at": created}
            for i, (code, name, parent, description) in enumerate(CATEGORIES)]


def kb_articles(ctx: Ctx) -> list[Row]:
    rnd = _rnd(ctx)
    codes = [c[0] for c in CATEGORIES]
    rows: list[Row] = []
    for i, art in enumerate(texts()["articles"]):
        cat, lang = art["category"], art["language"]
        status = NOT_PUBLISHED.get(i, "published")
        created = ctx.now - timedelta(days=rnd.randint(20, 380), hours=rnd.randint(0, 23))
        published = status == "published"
        rows.append({
            "title": art["title"], "category": Ref("kb_category", codes.index(cat)),
            "summary": art["summary"], "body": art["body"], "keywords": art["keywords"],
            "language": lang,
            "status": status, "created_at": created,
            "published_at": created + timedelta(days=rnd.randint(1, 10)) if published else None,
            "revision": 1 if published else 0,
            "usage_count": rnd.randint(0, 40) if published else 0,
            "helpful_count": rnd.randint(0, 25) if published else 0})
    return rows


def consents(ctx: Ctx) -> list[Row]:
    rnd = _rnd(ctx)
    rows: list[Row] = []
    for c, contact in enumerate(ctx.rows.get("contact", [])):
        if rnd.random() > 0.5 or not contact.get("email"):
            continue
        lang = ctx.people[c]["lang"] if c < len(ctx.people) else "en"
        kinds = [("marketing", "email")]
        if rnd.random() < 0.4:
            kinds.append(("newsletter", "email"))
        if lang == "zh" and rnd.random() < 0.5:
            kinds.append(("events", "wechat"))
        for purpose, channel in kinds:
            granted = contact["created_at"] + timedelta(days=rnd.randint(0, 60))
            granted = min(granted, ctx.now - timedelta(days=1))
            source = rnd.choice(("web_form", "event", "import", "in_person", "email_reply"))
            withdrawn = rnd.random() < 0.15
            rows.append({
                "contact": Ref("contact", c), "purpose": purpose, "channel": channel,
                "status": "withdrawn" if withdrawn else "granted", "granted_at": granted,
                "withdrawn_at": min(ctx.now, granted + timedelta(days=rnd.randint(5, 200)))
                if withdrawn else None, "source": source,
                "evidence": {"web_form": "https://example.cn/subscribe (checkbox ticked)",
                             "event": "Sign-up sheet, Shanghai customer day",
                             "import": "Imported from the 2025 trade fair list",
                             "in_person": "Signed the consent form at the meeting",
                             "email_reply": "Replied YES to the opt-in email"}[source],
                "created_at": granted})
    return rows


def survey_responses(ctx: Ctx) -> list[Row]:
    rnd = _rnd(ctx)
    rows: list[Row] = []
    contacts = ctx.rows.get("contact", [])
    for i, case in enumerate(ctx.rows.get("case", [])):
        contact = case.get("contact")
        if case.get("status") != "closed" or not isinstance(contact, Ref):
            continue
        lang = ctx.people[contact.row]["lang"] if contact.row < len(ctx.people) else "en"
        sent = (case.get("resolved_at") or case["created_at"]) + timedelta(hours=1)
        rating: int | None = case.get("satisfaction")
        answered = rating is not None
        expired = not answered and sent < ctx.now - timedelta(days=14)
        case["survey_status"] = "answered" if answered else "expired" if expired else "sent"
        row: Row = {
            "subject": case["subject"], "case": Ref("case", i), "contact": contact,
            "email": contacts[contact.row].get("email"), "channel": "email",
            "language": "zh_CN" if lang == "zh" else "en", "sent_at": sent,
            "expires_at": sent + timedelta(days=14), "status": "answered" if answered else "sent",
            "created_at": sent}
        if rating is not None:
            said = texts()["survey_comments"][lang][rating]
            row.update(rating=rating, resolved=rating >= 3,
                       answered_at=min(ctx.now, sent + timedelta(hours=rnd.randint(1, 72))),
                       comment=rnd.choice(said) if rnd.random() < 0.7 else None)
        rows.append(row)
    return rows


def emails(ctx: Ctx) -> list[Row]:
    rnd = _rnd(ctx)
    rows: list[Row] = []
    contacts = ctx.rows.get("contact", [])
    for kind, share in (("opportunity", 0.25), ("case", 0.3)):
        for i, rec in enumerate(ctx.rows.get(kind, [])):
            contact = rec.get("primary_contact" if kind == "opportunity" else "contact")
            if rnd.random() > share or not isinstance(contact, Ref) \
                    or not contacts[contact.row].get("email"):
                continue
            lang = ctx.people[contact.row]["lang"] if contact.row < len(ctx.people) else "en"
            name = rec.get("name") or rec.get("subject") or ""
            text = rnd.choice(texts()["emails"][kind][lang])
            subject, body = text["subject"], text["body"]
            sent = min(ctx.now - timedelta(minutes=5),
                       rec["created_at"] + timedelta(days=rnd.randint(0, 20),
                                                     hours=rnd.randint(1, 9)))
            related: dict[str, Any] = {"related_contact": contact,
                                       "related_account": rec.get("account"),
                                       f"related_{kind}": Ref(kind, i)}
            rows.append({"subject": subject.format(name=name)[:255],
                         "to": contacts[contact.row]["email"], "body": body.format(name=name),
                         "direction": "outbound", "status": "sent", "sent_at": sent,
                         "kind": "email", "created_at": sent, **related})
    return rows


def duplicate_accounts(ctx: Ctx) -> list[Row]:
    """The accounts with two more: an English and a Chinese customer entered again (as an
    import in capitals would), for the Duplicates page to show something."""
    rows = list(ctx.rows.get("account", []))
    seen: set[str] = set()
    for a, acc in enumerate(list(rows)):
        lang = ctx.accounts[a]["lang"] if a < len(ctx.accounts) else "en"
        if lang in seen or ctx.accounts[a]["kind"] != "customer":
            continue
        seen.add(lang)
        rows.append({**acc, "name": str(acc["name"]).upper(), "unified_social_credit_code": None,
                     "created_at": min(ctx.now, acc["created_at"] + timedelta(days=90))})
    return rows


def duplicate_contacts(ctx: Ctx) -> list[Row]:
    """The contacts with three more: two typed again with their email in capitals, one with
    the same name and mobile number."""
    rows = list(ctx.rows.get("contact", []))
    picked = [i for i, c in enumerate(rows) if c.get("email") and c.get("mobile")][:3]
    for n, i in enumerate(picked):
        c = rows[i]
        copy = {**c, "reports_to": None, "id_number": None,
                "created_at": min(ctx.now, c["created_at"] + timedelta(days=30))}
        if n < 2:
            copy["email"] = str(c["email"]).upper()
        else:
            copy["email"] = None
        rows.append(copy)
    return rows


#: (entity, builder) in the order app/demo_values.py `build_all` runs them (after the others);
#: the last two add the customers entered twice to the accounts and contacts built before
BUILDERS: tuple[tuple[str, Callable[[Ctx], list[Row]]], ...] = (
    ("kb_category", kb_categories), ("kb_article", kb_articles), ("consent", consents),
    ("survey_response", survey_responses), ("email", emails),
    ("account", duplicate_accounts), ("contact", duplicate_contacts))
