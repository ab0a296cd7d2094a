"""The designer's YAML tab: the deployment's own files edited as text (into the draft, shown
and applied like any change), the base pack's shown read-only, bad names refused."""

from __future__ import annotations

from pathlib import Path

from app.context import Context
from app.designer.service import Designer
from tests import designerwebkit
from tests.designerkit import designer_deployment
from tests.designerwebkit import DesignerWeb

designer_web = designerwebkit.designer_web

RULE = """
  - name: big_accounts_need_a_phone
    when: "employees > 1000 and phone == null"
    field: phone
    message: {en: Big accounts need a phone number, zh: 大客户必须填写电话}
"""


def test_a_file_edited_as_text_goes_through_the_draft(designer_web: DesignerWeb) -> None:
    web = designer_web
    listing = web.page("/designer/files/")
    assert "<code>schemas/account.yaml</code>" in listing and "this deployment" in listing
    page = web.page("/designer/files/schemas/0/account.yaml")
    assert "# Who may do what with these records" in page  # the text as written, comments too
    text = (web.ctx.settings.schema_dirs[-1] / "account.yaml").read_text(encoding="utf-8")
    edited = text.replace("\nrules:\n", "\nrules:" + RULE, 1) if "\nrules:\n" in text else \
        text + "rules:" + RULE
    resp = web.post("/designer/files/schemas/0/account.yaml", {"text": edited})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/designer/draft")
    [change] = web.draft()
    assert (change["op"], change["file"], change["text"]) == ("file", "schemas/0/account.yaml",
                                                              edited)
    assert change["base_sha"]  # what the text was written on: a rebase cannot undo others
    preview = Designer(web.ctx).preview("admin")
    assert preview.errors == [] and preview.meta is not None
    assert "big_accounts_need_a_phone" in {r.name for r in preview.meta.entity("account").rules}
    # the tab shows the draft's text now
    assert "big_accounts_need_a_phone" in web.page("/designer/files/schemas/0/account.yaml")


def test_broken_yaml_is_kept_in_the_draft_and_shown_with_its_line(
        designer_web: DesignerWeb) -> None:
    web = designer_web
    web.post("/designer/files/schemas/0/note.yaml", {"text": "entity: note\nfields: [oops\n"})
    preview = Designer(web.ctx).preview("admin")
    assert preview.errors and preview.errors[0].source.line
    draft = web.page("/designer/draft")
    assert "note.yaml" in draft and "CRM-E001" in draft


def test_new_files_and_bad_names(designer_web: DesignerWeb) -> None:
    web = designer_web
    resp = web.post("/designer/files/new", {"kind": "workflows", "name": "projects"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/designer/files/workflows/0/projects.yaml?new=1")
    for bad in ("../evil.yaml", ".hidden.yaml", "x/y.yaml", ""):
        resp = web.post("/designer/files/new", {"kind": "schemas", "name": bad})
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/designer/files/")
    assert web.get("/designer/files/schemas/0/..%2Fconfig.yaml").status_code == 404
    assert web.get("/designer/files/secrets/0/x.yaml").status_code == 404
    assert web.get("/designer/files/schemas/0/nothing.yaml").status_code == 404


def test_base_pack_files_are_read_only_in_an_overlay(tmp_path: Path,
                                                     database_url: str) -> None:
    ctx: Context = designer_deployment(tmp_path, database_url, overlay=True)
    try:
        web = DesignerWeb(ctx)
        page = web.page("/designer/files/schemas/0/account.yaml")
        assert 'id="read-only-file"' in page and "readonly" in page
        resp = web.post("/designer/files/schemas/0/account.yaml", {"text": "entity: x\n"})
        assert resp.status_code == 403
        assert web.draft() == []
    finally:
        ctx.dispose()


def test_reps_may_not_see_the_files(designer_web: DesignerWeb) -> None:
    rep = DesignerWeb(designer_web.ctx, "rep")
    assert rep.get("/designer/files/").status_code == 403
    assert rep.get("/designer/files/schemas/0/account.yaml").status_code == 403
