"""Webhooks and automations in YAML: located, coded config errors; the digest, snapshot and
publish (a webhook change is a new config version without DDL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta.errors import ConfigErrors
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta
from tests.factories import ROLES, small_pack


def _load(tmp_path: Path, yaml_text: str | None) -> Meta:
    schemas = small_pack(tmp_path / "schemas")
    wf = tmp_path / "workflows"
    wf.mkdir(exist_ok=True)
    if yaml_text is not None:
        (wf / "integrations.yaml").write_text(yaml_text, encoding="utf-8")
    return load_meta([schemas], ROLES, workflow_dirs=[wf])


def _errors(tmp_path: Path, yaml_text: str) -> list[tuple[str, int, str]]:
    with pytest.raises(ConfigErrors) as info:
        _load(tmp_path, yaml_text)
    for e in info.value.errors:
        assert e.source.file.endswith("integrations.yaml")
    return [(e.code, e.source.line, e.message) for e in info.value.errors]


@pytest.mark.parametrize(("text", "code", "line", "words"), [
    ("webhooks:\n  h:\n    url: http://x\n    events: [acount.created]\n",
     "CRM-E061", 4, "no entity 'acount' (did you mean 'account'?)"),
    ("webhooks:\n  h:\n    url: http://x\n    events: [account.saved]\n",
     "CRM-E061", 4, "is not one of"),
    ("webhooks:\n  h:\n    events: [account.created]\n", "CRM-E062", 2, "exactly one of"),
    ("webhooks:\n  h:\n    url: ftp://x\n    events: ['*']\n", "CRM-E062", 3, "http://"),
    ("webhooks:\n  h:\n    url: http://x\n    events: [contact.*]\n    fields: [nmae]\n",
     "CRM-E063", 5, "field 'nmae'"),
    ("webhooks:\n  h:\n    url: http://x\n    events: ['*']\n    secret: abc\n",
     "CRM-E011", 5, "unknown key 'secret'"),
    ("automations:\n  a:\n    entity: acount\n    events: [created]\n"
     "    actions: [{call_webhook: {url: 'http://x'}}]\n", "CRM-E064", 3, "no entity 'acount'"),
    ("automations:\n  a:\n    entity: account\n    events: [created]\n"
     "    actions: [{send_fax: {}}]\n", "CRM-E065", 5, "unknown action 'send_fax'"),
    ("automations:\n  a:\n    entity: account\n    events: [created]\n    actions:\n"
     "      - call_webhook: {url: 'http://x', bodyy: hi}\n", "CRM-E066", 6, "bodyy"),
    ("automations:\n  a:\n    entity: account\n    events: [created]\n    actions:\n"
     "      - call_webhook: {body: hi}\n", "CRM-E066", 6, "call_webhook"),
    ("automations:\n  a:\n    entity: account\n    events: [created]\n"
     "    when: \"employes > 3\"\n    actions: [{call_webhook: {url: 'http://x'}}]\n",
     "CRM-E042", 5, "employes"),
    ("automations:\n  a:\n    entity: account\n    events: [created]\n"
     "    when: \"name.upper()\"\n    actions: [{call_webhook: {url: 'http://x'}}]\n",
     "CRM-E041", 5, "when"),
    ("automations:\n  a:\n    entity: account\n    events: [saved]\n"
     "    actions: [{call_webhook: {url: 'http://x'}}]\n", "CRM-E010", 4, "saved"),
    ("pipelines: {}\n", "CRM-E060", 1, "webhooks"),
    ("automations:\n  a:\n    entity: account\n    events: [created]\n    actions:\n"
     "      - call_webhook: {url: 'http://x', body: 'Deal {name won'}\n",
     "CRM-E068", 6, "body: expected '}' before end of string"),
    ("automations:\n  a:\n    entity: account\n    events: [created]\n    actions:\n"
     "      - call_webhook: {url: 'http://x', body: '{employees:,.2f}'}\n",
     "CRM-E068", 6, "format specs are not supported"),
    ("automations:\n  a:\n    entity: account\n    events: [created]\n    actions:\n"
     "      - call_webhook: {url: 'http://x', body: '{name.__class__.__mro__}'}\n",
     "CRM-E068", 6, "is not a field name"),
])
def test_bad_yaml_is_a_located_coded_error(tmp_path: Path, text: str, code: str, line: int,
                                           words: str) -> None:
    errors = _errors(tmp_path, text)
    assert any(c == code and ln == line and words in m for c, ln, m in errors), errors


def test_no_workflow_files_keep_the_digest(tmp_path: Path) -> None:
    plain = load_meta([small_pack(tmp_path / "schemas")], ROLES)
    assert _load(tmp_path, None).digest == plain.digest
    assert "webhooks" not in meta_to_dict(plain)
    hooked = _load(tmp_path, "webhooks:\n  h:\n    url: http://x\n    events: ['*']\n")
    assert hooked.digest != plain.digest


def test_example_files_are_skipped_and_the_shipped_example_loads(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    example = (root / "workflows" / "integrations.example.yaml").read_text(encoding="utf-8")
    wf = tmp_path / "workflows"
    wf.mkdir()
    (wf / "integrations.example.yaml").write_text("nonsense: [", encoding="utf-8")
    from tests.factories import meta_of

    schemas = tmp_path / "schemas"
    import shutil

    shutil.copytree(root / "schemas", schemas)
    assert not load_meta([schemas], ROLES, workflow_dirs=[wf]).webhooks
    (wf / "integrations.yaml").write_text(example, encoding="utf-8")
    meta = load_meta([schemas], tuple(meta_of(schemas).roles) or ("admin",),
                     workflow_dirs=[wf])
    assert meta.webhooks and meta.automations


def test_snapshot_round_trip(tmp_path: Path) -> None:
    meta = _load(tmp_path, """
webhooks:
  erp: {url_env: ERP_URL, secret_env: ERP_KEY, events: [account.*], fields: [name]}
automations:
  big:
    entity: account
    events: [created, transition]
    when: "employees > 10"
    actions: [{call_webhook: {url: "http://x", body: "{name}"}}]
""")
    again = meta_from_dict(meta_to_dict(meta))
    assert meta_to_dict(again) == meta_to_dict(meta)
    assert again.webhooks["erp"].fields == ("name",)
    assert again.automations["big"].actions[0].params["body"] == "{name}"


def test_an_overlay_changes_and_removes_by_name(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "hooks.yaml").write_text(
        "webhooks:\n  a: {url: 'http://a', events: ['*']}\n  b: {url: 'http://b', events: ['*']}\n")
    top = tmp_path / "top"
    top.mkdir()
    (top / "hooks.yaml").write_text(
        "webhooks:\n  a: {url: 'http://changed'}\n  b: {remove: true}\n")
    meta = load_meta([small_pack(tmp_path / "schemas")], ROLES, workflow_dirs=[base, top])
    assert list(meta.webhooks) == ["a"]
    assert meta.webhooks["a"].url == "http://changed" and meta.webhooks["a"].events == ("*",)


@pytest.mark.parametrize(("first", "then", "url", "url_env"), [
    ("url: 'http://a'", "url_env: HOOK_URL", None, "HOOK_URL"),
    ("url_env: HOOK_URL", "url: 'http://b'", "http://b", None),
])
def test_an_overlay_switches_between_url_and_url_env(tmp_path: Path, first: str, then: str,
                                                     url: str | None,
                                                     url_env: str | None) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "hooks.yaml").write_text(f"webhooks:\n  a: {{{first}, events: ['*']}}\n")
    top = tmp_path / "top"
    top.mkdir()
    (top / "hooks.yaml").write_text(f"webhooks:\n  a: {{{then}}}\n")
    meta = load_meta([small_pack(tmp_path / "schemas")], ROLES, workflow_dirs=[base, top])
    hook = meta.webhooks["a"]
    assert (hook.url, hook.url_env, hook.events) == (url, url_env, ("*",))


def test_workflow_hints_are_the_checks_hints() -> None:
    from app.meta import checks, workflows

    assert workflows._hint is checks._hint


def test_publishing_a_webhook_change_is_a_new_version_without_ddl(
        tmp_path: Path, database_url: str) -> None:
    from app.migrate.publish import plan_change, publish
    from tests.webkit import deployment

    ctx = deployment(tmp_path, database_url, pack="small",
                     extra_config="workflows: workflows\n")
    try:
        (tmp_path / "workflows").mkdir()
        first = publish(ctx.engine, ctx.yaml_meta())
        (tmp_path / "workflows" / "h.yaml").write_text(
            "webhooks:\n  h: {url: 'http://x', events: ['*']}\n")
        plan = plan_change(ctx.engine, ctx.yaml_meta())
        assert plan.steps == []
        second = publish(ctx.engine, ctx.yaml_meta())
        assert second.version is not None and second.version > (first.version or 0)
        from app.migrate.publish import active_version

        with ctx.engine.connect() as conn:
            _vid, live = active_version(conn)
        assert live is not None and list(live.webhooks) == ["h"]
    finally:
        ctx.dispose()
