"""The duplicates pages (app/web/duplicates.py): the groups page and its menu link, the compare
page (defaults, choosing the survivor, what moves), the merge (CSRF, 422 on bad choices, 409 on
a stale version, the flash on the survivor's page), "not duplicates", the buttons on a
record's page, and the "merged into" marks in the recycle bin, on the deleted record's page
and in the timeline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from tests.mergekit import PASSWORDS, current, deployment, make, records
from tests.webkit import csrf, web_app


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = deployment(tmp_path, database_url)
    yield c
    c.dispose()


@pytest.fixture
def app(ctx: Context) -> Flask:
    return web_app(ctx)


def client(app: Flask, username: str = "admin") -> FlaskClient:
    c = app.test_client()
    token = csrf(c.get("/login").text)
    resp = c.post("/login", data={"username": username, "password": PASSWORDS[username],
                                  "csrf_token": token})
    assert resp.status_code == 302, resp.text
    return c


def form_of(html: str) -> dict[str, list[str]]:
    """The inputs of the merge form as a browser would send them (checked radios only)."""
    body = html[html.index('id="merge-form"'):html.index("</form>", html.index('id="merge-form"'))]
    out: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", body):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name is None or value is None:
            continue
        if 'type="radio"' in tag and " checked" not in tag:
            continue
        out.setdefault(name.group(1), []).append(value.group(1))
    return out


def test_groups_compare_and_merge(app: Flask, ctx: Context) -> None:
    keep = make(ctx, "contact", "rep", last_name="Li", email="li@acme.cn")
    lose = make(ctx, "contact", "rep", last_name="Li", first_name="Lei", email="LI@acme.cn",
                title="CTO")
    call = make(ctx, "activity", subject="Call Li", related_contact=lose["id"])
    make(ctx, "contact", last_name="Solo", email="solo@acme.cn")
    c = client(app, "manager")
    assert 'id="duplicates-link"' in c.get("/").text
    page = c.get("/duplicates/?entity=contact&rule=contact_email")
    assert page.status_code == 200
    assert f'data-ids="{keep["id"]},{lose["id"]}"' in page.text and "Solo" not in page.text
    assert c.get("/duplicates/?entity=contact&rule=nope").status_code == 404

    url = f"/duplicates/contact/compare?ids={keep['id']}&ids={lose['id']}"
    compare = c.get(url)
    assert compare.status_code == 200
    # the survivor's non-empty value by default, else the other's
    assert f'id="choice-email-{keep["id"]}" value="{keep["id"]}" checked' in compare.text
    assert f'id="choice-title-{lose["id"]}" value="{lose["id"]}" checked' in compare.text
    assert 'data-entity="activity" data-field="related_contact"' in compare.text
    swapped = c.get(url + f"&survivor={lose['id']}")
    assert f'id="choice-email-{lose["id"]}" value="{lose["id"]}" checked' in swapped.text

    data = form_of(compare.text)
    data["choice_email"] = [str(lose["id"])]
    no_token = {k: v for k, v in data.items() if k != "csrf_token"}
    assert c.post("/duplicates/contact/merge", data=no_token).status_code == 400
    done = c.post("/duplicates/contact/merge", data=data)
    assert done.status_code == 303 and done.headers["Location"] == f"/contact/{keep['id']}"
    survivor = c.get(done.headers["Location"]).text
    assert "1 record was merged into Li" in survivor
    assert current(ctx, "contact", keep["id"])["email"] == "LI@acme.cn"
    assert current(ctx, "activity", call["id"])["related_contact"] == keep["id"]
    assert "Merged into this record:" in survivor  # the timeline entry
    # the loser: in the bin marked, its page points at the survivor
    assert "merged into" in c.get("/contact/bin").text
    gone = c.get(f"/contact/{lose['id']}")
    assert gone.status_code == 404 and 'id="merged-into"' in gone.text


def test_bad_choices_stale_versions_and_refusals(app: Flask, ctx: Context) -> None:
    keep = make(ctx, "contact", last_name="Li", email="li@acme.cn")
    lose = make(ctx, "contact", last_name="Li", email="lei@acme.cn")
    c = client(app)
    url = f"/duplicates/contact/compare?ids={keep['id']}&ids={lose['id']}"
    data = form_of(c.get(url).text)
    bad = {**data, "choice_email": ["999"], "choice_nope": [str(keep["id"])]}
    page = c.post("/duplicates/contact/merge", data=bad)
    assert page.status_code == 422
    assert 'id="merge-error"' in page.text and "must come from one of the records" in page.text
    assert current(ctx, "contact", lose["id"])["deleted_at"] is None
    records(ctx).update("contact", lose["id"], {"title": "CEO"})
    stale = c.post("/duplicates/contact/merge", data=data)
    assert stale.status_code == 409 and "changed this record" in stale.text
    assert 'value="CEO"' not in stale.text and "CEO" in stale.text  # shown as it is now
    assert c.post("/duplicates/contact/merge", data={**data, "survivor": ["x"]}).status_code \
        == 400
    assert c.get(f"/duplicates/contact/compare?ids={keep['id']}").status_code == 400
    rep = client(app, "rep")
    assert rep.get("/duplicates/").status_code == 403
    assert rep.get(url).status_code == 403
    assert 'id="duplicates-link"' not in rep.get("/").text


def test_record_buttons_and_not_duplicates(app: Flask, ctx: Context) -> None:
    a = make(ctx, "account", name="Acme Ltd")
    b = make(ctx, "account", name="ACME")
    c = client(app)
    page = c.get(f"/account/{a['id']}").text
    assert 'id="merge-duplicates"' in page and 'id="not-duplicates"' in page
    link = re.search(r'href="(/duplicates/account/compare\?[^"]+)"', page)
    assert link is not None and c.get(link.group(1).replace("&amp;", "&")).status_code == 200
    action = re.search(r'action="(/duplicates/account/dismiss\?[^"]+)"', page)
    assert action is not None
    url = action.group(1).replace("&amp;", "&")
    done = c.post(url, data={"csrf_token": csrf(page)})
    assert done.status_code == 303 and done.headers["Location"] == f"/account/{a['id']}"
    assert 'id="merge-duplicates"' not in c.get(f"/account/{a['id']}").text
    assert "No duplicates found" in c.get("/duplicates/?entity=account").text
    assert 'id="merge-duplicates"' not in client(app, "rep").get(f"/account/{b['id']}").text


def test_chinese_pages(app: Flask, ctx: Context) -> None:
    """Labels from the YAML in Chinese (the UI strings come from the catalogue)."""
    keep = make(ctx, "contact", last_name="张三")
    lose = make(ctx, "contact", last_name="张　三")
    c = client(app)
    c.post("/me/language", data={"locale": "zh_CN", "csrf_token": csrf(c.get("/").text),
                                 "next": "/"})
    page = c.get("/duplicates/?entity=contact")
    assert page.status_code == 200 and 'lang="zh' in page.text
    assert "邮箱相同" in page.text and "联系人" in page.text
    compare = c.get(f"/duplicates/contact/compare?ids={keep['id']}&ids={lose['id']}")
    assert compare.status_code == 200 and "张　三" in compare.text
