"""Test kit for imports: a deployment of the default pack with the `immediate` task queue, the
records service and attachment store of its live version, and a seeded generator of messy
contact lists (Chinese and English names, phones and dates written every which way, known bad
rows and duplicates) that bench/imports.py uses at 100,000 rows."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from faker import Faker

from app.context import Context
from app.imports.run import store_of
from app.migrate.publish import active_version
from app.model.build import build_models
from app.records import Actor, Records
from app.records.attachments import AttachmentStore
from tests.webkit import deployment, user_id

#: the columns of a generated file (headers in both languages, as clients' files have them)
HEADERS = ("姓", "名", "Email", "手机", "Phone", "Company", "Birthday", "Lead source",
           "请勿致电", "City", "Title")
#: the field each column is matched to automatically
EXPECTED_MAPPING = {"姓": "last_name", "名": "first_name", "Email": "email", "手机": "mobile",
                    "Phone": "phone", "Company": None, "Birthday": "birthday",
                    "Lead source": "lead_source", "请勿致电": "do_not_call", "City": None,
                    "Title": "title"}
#: the mapping tests use (Company -> the account lookup by name, City -> the mailing city)
MAPPING = {**EXPECTED_MAPPING, "Company": "account", "City": "mailing_city"}
ACCOUNTS = ("阿里巴巴", "腾讯科技", "Acme Ltd", "北京华为", "Globex Corp", "上海银行")
LEAD_SOURCES = (("web", "Website", "官网"), ("referral", "Referral", "客户推荐"),
                ("trade_show", "Trade show", "展会"), ("partner", "Partner", "合作伙伴"))
#: kinds of bad rows the generator makes, with the column each one names
BAD_KINDS = {"email": "Email", "date": "Birthday", "company": "Company", "mobile": "手机",
             "lead_source": "Lead source", "last_name": "姓"}


def import_deployment(folder: Path, database_url: str) -> Context:
    """The default pack, tests.webkit.USERS, the immediate task queue (queued imports run at
    once). The caller disposes the Context."""
    return deployment(folder, database_url, extra_config="task_queue: immediate\n")


def live(ctx: Context, actor: Actor | None = None) -> Records:
    with ctx.engine.connect() as conn:
        _, meta = active_version(conn)
    assert meta is not None
    return Records(ctx.engine, build_models(meta, orm_classes=False), plugins=ctx.plugins,
                   **({"actor": actor} if actor is not None else {}))


def store(ctx: Context) -> AttachmentStore:
    return store_of(ctx.engine, ctx.settings.attachments_dir)


def admin(ctx: Context) -> Actor:
    return Actor(user_id(ctx, "admin"), "admin", ("admin",))


def rep(ctx: Context, name: str = "rep") -> Actor:
    return Actor(user_id(ctx, name), name, ("sales_rep",))


def make_accounts(records: Records) -> dict[str, int]:
    return {name: int(records.create("account", {"name": name})["id"]) for name in ACCOUNTS}


def csv_bytes(rows: Iterable[Sequence[Any]], headers: Sequence[str] = HEADERS, *,
              encoding: str = "utf-8-sig", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: Iterable[Sequence[Any]], headers: Sequence[str] = HEADERS,
               sheet: str = "Contacts") -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    ws.append(list(headers))
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class Messy:
    """A generated file's rows and what is known about them (row numbers as a spreadsheet
    shows them: the header is row 1)."""

    rows: list[list[Any]] = field(default_factory=list)
    #: row -> (kind of problem, the column it names, or None for the row)
    bad: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    #: row -> the earlier row it repeats (same email, written differently)
    repeats: dict[int, int] = field(default_factory=dict)
    #: row -> the email of an existing contact it repeats
    existing: dict[int, str] = field(default_factory=dict)
    #: row -> the clean values the row stands for (good rows only)
    clean: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def good(self) -> list[int]:
        return [r for r in self.clean if r not in self.repeats and r not in self.existing]


def _phone(rng: random.Random, digits: str) -> str:
    """One mobile number written in one of the ways people write it."""
    style = rng.randrange(6)
    if style == 0:
        return digits
    if style == 1:
        return f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
    if style == 2:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if style == 3:
        return f"0086 {digits}"
    if style == 4:
        return f"(+86){digits}"
    return f"{digits[:3]} {digits[3:7]} {digits[7:]}"


def _landline(rng: random.Random) -> str:
    return rng.choice((f"010-{rng.randrange(10**7, 10**8)}", f"+1 (555) {rng.randrange(100, 999)}"
                       f"-{rng.randrange(1000, 9999)}", f"021 {rng.randrange(10**7, 10**8)}"))


def _date(rng: random.Random, day: date) -> str:
    style = rng.randrange(5)
    if style == 0:
        return day.isoformat()
    if style == 1:
        return f"{day.year}/{day.month}/{day.day}"
    if style == 2:
        return f"{day.year}年{day.month}月{day.day}日"
    if style == 3:
        return f"{day.day:02d}/{day.month:02d}/{day.year}"  # day first (date_order dmy)
    return day.strftime("%Y%m%d")


def messy_contacts(n: int, *, seed: int = 8, bad_every: int = 50, repeat_every: int = 37,
                   existing: Sequence[str] = ()) -> Messy:
    """`n` data rows: Chinese (zh_CN) and English (en_US) people, emails in mixed case, phones
    and dates written every which way (dates day first where ambiguous), lead sources by
    value or by label in either language, yes/no as 是/否/Y/N. Every `bad_every`-th row is bad
    in one known way; every `repeat_every`-th row repeats an earlier row's email (in
    another case, with spaces); rows repeating `existing` emails are spread in too."""
    rng = random.Random(seed)
    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(seed)
    en.seed_instance(seed + 1)
    out = Messy()
    emails: dict[int, str] = {}
    kinds = list(BAD_KINDS)
    spread = {(i * 997 + 13) % n for i in range(len(existing))} if n else set()
    for index in range(n):
        number = index + 2
        chinese = rng.random() < 0.7
        fake = zh if chinese else en
        last, first = (fake.last_name(), fake.first_name())
        mobile = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        day = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 45))
        source = rng.choice(LEAD_SOURCES)
        company = rng.choice(ACCOUNTS)
        email = f"{'zh' if chinese else 'en'}{index}.{rng.randrange(10**6)}@example.com"
        row: list[Any] = [
            last, first, email if rng.random() < 0.8 else email.upper(), _phone(rng, mobile),
            _landline(rng) if rng.random() < 0.3 else "",
            company if rng.random() < 0.8 else f"  {company.upper()} ",
            _date(rng, day), rng.choice(source), rng.choice(("是", "否", "Y", "N", "yes", "no")),
            fake.city(), fake.job()[:100] if rng.random() < 0.5 else ""]
        clean = {"last_name": last, "first_name": first, "email": email, "mobile": mobile,
                 "birthday": day, "lead_source": source[0], "account": company}
        if index in spread:
            target = existing[len(out.existing) % len(existing)]
            row[2] = target.upper()
            out.existing[number] = target
        elif index and index % repeat_every == 0:
            earlier = rng.choice([r for r in emails if r not in out.bad] or [2])
            row[2] = f" {emails.get(earlier, email).upper()} "
            out.repeats[number] = earlier
        elif index % bad_every == bad_every - 1:
            kind = kinds[(index // bad_every) % len(kinds)]
            out.bad[number] = (kind, BAD_KINDS[kind])
            if kind == "email":
                row[2] = "not-an-email"
            elif kind == "date":
                row[6] = "2024-13-45"
            elif kind == "company":
                row[5] = "No Such Company"
            elif kind == "mobile":
                row[3] = "12345"
            elif kind == "lead_source":
                row[7] = "telepathy"
            else:
                row[0] = ""
        if number not in out.bad and number not in out.repeats:
            out.clean[number] = clean
            if number not in out.existing:
                emails[number] = email
        out.rows.append(row)
    return out
