"""Review of issue 7 (the schema designer): each test shows one defect found in review and
fails until it is fixed. Product code is not changed here; the report names the fix."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from app.cli_privacy import live_records
from app.context import Context
from app.designer.changes import ChangeError
from app.designer.service import Conflict, Designer, Refused
from app.migrate.publish import PublishError, active_version
from app.records import Actor
from app.settings import load_settings
from tests import designerkit
from tests.designerkit import designer_deployment, field_change
from tests.designerwebkit import DesignerWeb

designer_ctx = designerkit.designer_ctx
SYSTEM = Actor(None, "system", ("admin",))


def own_file(ctx: Context, name: str) -> Path:
    return ctx.settings.schema_dirs[-1] / name


def field_def(ctx: Context, entity_file: str, name: str) -> dict[str, Any]:
    data = yaml.safe_load(own_file(ctx, entity_file).read_text(encoding="utf-8"))
    return dict(data["fields"][name])


def column_value(ctx: Context, column: str, row_id: int) -> Any:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.text(f"select {column} from ent_account where id = :i"),
                            {"i": row_id}).scalar()


def alias_bomb(levels: int, *, field_values: bool) -> str:
    """A few hundred bytes of YAML whose aliases expand to 10**levels strings."""
    if field_values:  # a preset block's fields: every value a mapping
        lines = ['b0: {type: string, x: &a0 ["x","x","x","x","x","x","x","x","x","x"]}']
        lines += [f"b{i}: {{type: string, x: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]}"
                  for i in range(1, levels)]
        return "\n".join(lines) + "\n"
    lines = ['  a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"  a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "presets:\n" + "\n".join(lines) + "\n"


# --- comments and write-back ---------------------------------------------------------------

def test_editing_a_one_line_field_keeps_the_comment_above_it(designer_ctx: Context) -> None:
    """account.yaml has `# tag suggestions are plain words ...` above the one-line `tags:`
    field; relabelling the field (what the field form sends) deletes the comment."""
    comment = "# tag suggestions are plain words (tags are free text, so they have no labels)"
    assert comment in own_file(designer_ctx, "account.yaml").read_text(encoding="utf-8")
    designer = Designer(designer_ctx)
    tags = field_def(designer_ctx, "account.yaml", "tags")
    designer.add("admin", field_change(name="tags", definition={
        **tags, "label": {"en": "Labels", "zh": "标签"}}))
    designer.apply("admin")
    after = own_file(designer_ctx, "account.yaml").read_text(encoding="utf-8")
    assert "Labels" in after
    assert comment in after


def test_a_comment_only_edit_does_not_stop_later_write_backs(designer_ctx: Context) -> None:
    """A YAML-tab edit that only adds a comment (what the tab is for) publishes no version
    (same digest) and records no files, so the written file counts as 'edited on disk' from
    then on: the next designer change to that file is published but never written to it."""
    designer = Designer(designer_ctx)
    path = own_file(designer_ctx, "account.yaml")
    text = path.read_text(encoding="utf-8")
    designer.add("admin", {"op": "file", "file": "schemas/0/account.yaml",
                           "text": text.replace("# Accounts:", "# Reviewed by finance.\n"
                                                "# Accounts:")})
    designer.apply("admin")
    designer.add("admin", field_change())
    applied = designer.apply("admin")
    assert applied.skipped == []
    assert "  tier:" in path.read_text(encoding="utf-8")


def test_a_file_name_with_a_nul_byte_cannot_break_every_later_apply(
        designer_ctx: Context) -> None:
    """`schemas/0/a\\x00b.yaml` passes valid_name (the YAML tab takes it from the URL:
    POST /designer/files/schemas/0/a%00b.yaml). SQLite: the version is published with it,
    the write-back raises ValueError (a 500) and every later apply publishes and raises again.
    PostgreSQL: the apply is a 500 (DataError: NUL in the version message)."""
    designer = Designer(designer_ctx)
    text = ("entity: zz\nlabel: {en: Z}\nplural: {en: Zs}\ntitle: name\n"
            "fields:\n  name: {type: string, label: {en: Name}}\n")
    try:
        designer.add("admin", {"op": "file", "file": "schemas/0/a\x00b.yaml", "text": text})
    except ChangeError:
        return  # refused up front: fixed
    with contextlib.suppress(Refused, Conflict, PublishError):
        designer.apply("admin")  # SQLite: published, then ValueError; PostgreSQL: DataError
    designer.discard("admin")
    designer.add("admin", field_change())
    applied = designer.apply("admin")
    assert applied.version is not None


def test_an_overlay_without_its_own_workflows_folder_never_writes_the_base_pack(
        tmp_path: Path, database_url: str) -> None:
    """A client overlay that sets `schemas:` but not `workflows:`: the designer takes the base
    pack's workflows/ as 'this deployment's own' layer and rewrites its sales.yaml."""
    base = designer_deployment(tmp_path, database_url, overlay=True)
    base.dispose()
    client = tmp_path / "client" / "config.yaml"
    client.write_text("extends: ../config.yaml\nschemas: schemas\nmigrations: migrations\n",
                      encoding="utf-8")
    ctx = Context(load_settings(client, environ={"CRM_DATABASE_URL": database_url,
                                                 "CRM_SECRET_KEY": "test-secret"}))
    try:
        sales = tmp_path / "workflows" / "sales.yaml"
        before = sales.read_text(encoding="utf-8")
        designer = Designer(ctx)
        try:
            designer.add("admin", {"op": "workflow", "section": "stages",
                                   "name": "lead_qualification", "definition": None})
        except ChangeError:
            return  # refused: fixed
        with contextlib.suppress(Refused):
            designer.apply("admin", confirm=True)
        assert sales.read_text(encoding="utf-8") == before
    finally:
        ctx.dispose()


# --- revert, rebase, purge -------------------------------------------------------------------

def test_reverting_a_rename_brings_the_values_back(designer_ctx: Context) -> None:
    """Rename renames the column; reverting to the version before adds an EMPTY column of the
    old name and hides the renamed one: the restored field shows no values."""
    designer = Designer(designer_ctx)
    designer.add("admin", field_change(name="loyalty", definition={
        "type": "string", "label": {"en": "Loyalty", "zh": "忠诚度"}}))
    before_rename = designer.apply("admin").version
    assert before_rename is not None
    acme = live_records(designer_ctx).create("account", {"name": "Acme", "loyalty": "gold"},
                                             SYSTEM)
    designer.add("admin", {"op": "rename_field", "entity": "account", "field": "loyalty",
                           "to": "loyalty_level"})
    designer.apply("admin")
    assert live_records(designer_ctx).get("account", acme["id"])["loyalty_level"] == "gold"
    designer.revert_to("admin", before_rename)
    designer.apply("admin", confirm=True)
    assert live_records(designer_ctx).get("account", acme["id"])["loyalty"] == "gold"


def test_rebasing_a_whole_file_edit_does_not_silently_undo_the_other_change(
        designer_ctx: Context) -> None:
    """Alice edits account.yaml in the YAML tab; Bob relabels the entity and applies; Alice
    sees the conflict, rebases and applies: her old file text replaces Bob's, his label is
    gone, and nothing warned or refused."""
    designer = Designer(designer_ctx)
    text = own_file(designer_ctx, "account.yaml").read_text(encoding="utf-8")
    designer.add("alice", {"op": "file", "file": "schemas/0/account.yaml",
                           "text": text.replace("icon: building-2", "icon: building")})
    designer.add("bob", {"op": "entity", "entity": "account",
                         "values": {"label": {"en": "Customer", "zh": "客户"}}})
    designer.apply("bob")
    with pytest.raises(Conflict):
        designer.apply("alice")
    designer.rebase("alice")
    try:
        designer.apply("alice")
    except (Refused, Conflict):
        return  # the lost change is caught: fixed
    with designer_ctx.engine.connect() as conn:
        meta = active_version(conn)[1]
    assert meta is not None
    assert meta.entities["account"].label["en"] == "Customer"


def test_purge_deletes_only_what_the_admin_was_shown(designer_ctx: Context) -> None:
    """The purge page lists the hidden columns; the confirming POST purges whatever is hidden
    at that moment, including a column another admin hid after the page was shown."""
    rs = live_records(designer_ctx)
    acme = rs.create("account", {"name": "Acme", "website": "https://acme.example",
                                 "phone": "+86 10 1234 5678"}, SYSTEM)
    designer = Designer(designer_ctx)
    designer.add("admin", {"op": "remove_field", "entity": "account", "field": "website"})
    designer.apply("admin", confirm=True)
    web = DesignerWeb(designer_ctx)
    page = web.page("/designer/purge")
    assert "website" in page and "account.phone" not in page
    designer.add("other", {"op": "remove_field", "entity": "account", "field": "phone"})
    designer.apply("other", confirm=True)
    web.post("/designer/purge", {"confirm": "yes"})
    with designer_ctx.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("ent_account")}
    assert "phone" in columns, "the phone column was purged unseen"
    assert column_value(designer_ctx, "phone", acme["id"]) == "+86 10 1234 5678"


# --- data the plan does not protect ---------------------------------------------------------

def test_pointing_a_lookup_at_another_entity_does_not_silently_relink_records(
        designer_ctx: Context) -> None:
    """account.parent (a lookup to account) changed to a lookup to contact: the plan is empty
    and Acme's parent, the account 'Head office', becomes whatever contact has the same id."""
    rs = live_records(designer_ctx)
    head = rs.create("account", {"name": "Head office"}, SYSTEM)
    rs.create("contact", {"first_name": "Wei", "last_name": "Zhang"}, SYSTEM)
    rs.create("account", {"name": "Acme", "parent": head["id"]}, SYSTEM)
    designer = Designer(designer_ctx)
    designer.add("admin", field_change(name="parent", definition={
        "type": "lookup", "to": "contact", "label": {"en": "Main contact", "zh": "主联系人"}}))
    with pytest.raises(Refused):
        designer.apply("admin")


@pytest.mark.parametrize(("field", "definition", "value"), [
    ("description", {"type": "string", "max_length": 5, "label": {"en": "Summary"}},
     "a long description"),
    ("annual_revenue", {"type": "decimal", "scale": 0, "label": {"en": "Revenue"}},
     "1234.56"),
], ids=["text-to-short-string", "currency-to-whole-decimal"])
def test_a_type_change_checks_the_values_fit_the_new_size(
        designer_ctx: Context, field: str, definition: dict[str, Any], value: str) -> None:
    """The plan calls both 'safe, every value converted': text -> string(5) then fails in the
    database on PostgreSQL (a 500; SQLite keeps values longer than max_length), and
    currency -> decimal with scale 0 rounds 1234.56 to 1235 without asking."""
    live_records(designer_ctx).create("account", {"name": "Acme", field: value}, SYSTEM)
    designer = Designer(designer_ctx)
    designer.add("admin", field_change(name=field, definition=definition))
    with pytest.raises(Refused):
        designer.apply("admin")


# --- robustness ------------------------------------------------------------------------------

def test_a_syntax_error_saved_in_the_yaml_tab_is_shown_not_a_500(designer_ctx: Context) -> None:
    """A typo saved in account.yaml through the YAML tab: preview raises KeyError('account')
    (app/meta/access.py _check_rule, reached because the broken file leaves no `account`)
    instead of listing the syntax error, so the draft page, the entity list and the YAML tab
    itself answer 500 until the draft is discarded."""
    web = DesignerWeb(designer_ctx)
    text = own_file(designer_ctx, "account.yaml").read_text(encoding="utf-8")
    saved = web.post("/designer/files/schemas/0/account.yaml", {"text": text + "\n  broken: [\n"})
    assert saved.status_code == 302
    draft = web.get("/designer/draft")
    assert draft.status_code == 200
    assert "account.yaml" in draft.get_data(as_text=True)


@pytest.mark.parametrize("text", [
    "presets: " + "[" * 3000 + "]" * 3000 + "\n",
    "presets:\n  p: {type: string, label: {en: \ud800}}\n",
], ids=["deep-nesting", "lone-surrogate"])
def test_preview_of_text_the_yaml_parser_cannot_take_lists_an_error(
        designer_ctx: Context, text: str) -> None:
    """RecursionError (deep nesting) and UnicodeEncodeError (a lone surrogate, which JSON's
    \\ud800 escape sends) escape yamlpos.load: a 500 instead of an error with the file."""
    designer = Designer(designer_ctx)
    try:
        designer.add("admin", {"op": "file", "file": "schemas/0/zz.yaml", "text": text})
    except ChangeError:
        return  # refused up front: fine
    preview = designer.preview("admin")
    assert preview.errors


def test_yaml_aliases_cannot_tie_up_a_worker(designer_ctx: Context) -> None:
    """YAML aliases expand exponentially: ~400 bytes in the preset form's 'Its fields (YAML)'
    (posted on every keystroke by the live preview) or in a file change keep a worker busy for
    seconds at 5-7 levels and for hours at 8-9."""
    web = DesignerWeb(designer_ctx)
    started = time.monotonic()
    web.post("/designer/presets/yaml-preview", {"kind": "block", "name": "bomb",
                                                "fields_yaml": alias_bomb(5, field_values=True)})
    form_seconds = time.monotonic() - started
    designer = Designer(designer_ctx)
    designer.add("admin", {"op": "file", "file": "schemas/0/zz_bomb.yaml",
                           "text": alias_bomb(7, field_values=False)})
    started = time.monotonic()
    designer.preview("admin")
    file_seconds = time.monotonic() - started
    assert form_seconds < 3.0 and file_seconds < 3.0, (form_seconds, file_seconds)


def test_changes_added_at_the_same_time_are_all_kept(designer_ctx: Context) -> None:
    """Two tabs saving at once: Designer.add reads the draft, appends and writes it back
    without a lock: PostgreSQL keeps one change and says 'added' to all (lost update), SQLite
    fails the others with 'database is locked' (a 500)."""
    Designer(designer_ctx).add("admin", field_change(name="f0", definition={
        "type": "string", "label": {"en": "F0"}}))
    barrier = threading.Barrier(4)
    failures: list[str] = []

    def add(i: int) -> None:
        barrier.wait()
        try:
            Designer(designer_ctx).add("admin", field_change(name=f"f{i}", definition={
                "type": "string", "label": {"en": f"F{i}"}}))
        except Exception as exc:  # any failure is what the test reports
            failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")

    threads = [threading.Thread(target=add, args=(i,)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = sorted(c["field"] for c in Designer(designer_ctx).draft("admin").changes)
    assert (failures, kept) == ([], ["f0", "f1", "f2", "f3", "f4"])


def test_a_version_number_too_big_for_the_database_is_a_404(designer_ctx: Context) -> None:
    """/designer/history/diff and /designer/history?page= pass any digits to the database:
    OverflowError (SQLite) / out of range (PostgreSQL), a 500."""
    web = DesignerWeb(designer_ctx)
    huge = "99999999999999999999"
    statuses = [web.get(f"/designer/history/diff?a={huge}&b=1").status_code,
                web.get(f"/designer/history?page={huge}").status_code,
                web.post(f"/designer/history/{huge}/revert", {}).status_code]
    assert all(s < 500 for s in statuses), statuses
