"""Reports, dashboards and alerts in the config: the `reports:` folder kind (config.yaml,
layers, the designer's file keys), errors with file:line and their codes (CRM-E118..E125),
overlays changing a report key by key or removing it, and the config version's snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta.build import digest_of
from app.meta.errors import ConfigError, ConfigErrors
from app.meta.files import ConfigFiles, FileKey
from app.meta.loader import load_meta
from app.meta.snapshot import meta_from_dict, meta_to_dict
from app.meta.types import Meta
from tests.factories import ROLES

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load(*dirs: Path) -> Meta:
    return load_meta([SCHEMAS], ROLES, report_dirs=list(dirs))


def errors_of(*dirs: Path) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as info:
        load(*dirs)
    return info.value.errors


def test_the_shipped_reports_load_and_survive_the_snapshot() -> None:
    meta = load(ROOT / "reports")
    assert {"pipeline_by_stage", "won_by_month", "leads_by_source", "open_cases_by_priority",
            "cases_by_sla", "campaign_roi", "activities_overdue"} <= set(meta.reports)
    assert set(meta.dashboards) == {"sales", "service", "marketing"}
    assert {"overdue_cases", "overdue_deals"} <= set(meta.alerts)
    assert meta.dashboards["service"].roles == ("service_manager", "service_agent")
    again = meta_from_dict(meta_to_dict(meta))
    assert (again.reports, again.dashboards, again.alerts) == (
        meta.reports, meta.dashboards, meta.alerts)
    assert digest_of(again) == meta.digest
    without = load_meta([SCHEMAS], ROLES)
    assert without.digest != meta.digest and "reports" not in meta_to_dict(without)


def test_errors_name_the_file_line_and_code(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    path = write(folder, "bad.yaml", """\
reports:
  by_stage:
    entity: opportunity
    group_by: [stge]
  sums_text:
    entity: opportunity
    measures: [{agg: sum, field: name}]
  three:
    entity: opportunity
    group_by: [stage, owner, type]
  bad_filter:
    entity: opportunity
    filters: [{field: stage, op: gt, values: [won]}]
    chart: pie
  colour:
    entity: opportunity
    colour: red
  u12:
    entity: lead
dashboards:
  boss:
    roles: [sales_boss]
    widgets: [{report: nope}]
alerts:
  loud:
    report: by_stage
    measure: sum_amount
    when: {op: ">", value: 1}
    notify: [sales_rep]
""")
    found = {(e.code, e.source.line) for e in errors_of(folder)}
    assert found == {("CRM-E120", 4), ("CRM-E122", 7), ("CRM-E121", 10), ("CRM-E123", 13),
                     ("CRM-E124", 14), ("CRM-E011", 17), ("CRM-E119", 18), ("CRM-E125", 22),
                     ("CRM-E125", 23), ("CRM-E125", 27)}
    first = next(e for e in errors_of(folder) if e.code == "CRM-E120")
    assert str(first).startswith(f"{path}:4:")
    assert "report 'by_stage': Opportunity has no field 'stge' (did you mean 'stage'?)" \
        in str(first)


def test_a_file_must_hold_reports_dashboards_or_alerts(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    write(folder, "typo.yaml", "report:\n  x: {entity: lead}\n")
    write(folder, "empty.yaml", "")
    write(folder, "ignored.example.yaml", "nonsense: [\n")
    assert [(e.code, e.source.line) for e in errors_of(folder)] == [("CRM-E118", 1)]


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    assert [e.code for e in errors_of(tmp_path / "nowhere")] == ["CRM-E050"]


def test_overlays_change_key_by_key_and_remove(tmp_path: Path) -> None:
    base, overlay = tmp_path / "base", tmp_path / "client"
    write(base, "sales.yaml", """\
reports:
  by_stage:
    label: {en: By stage, zh: 按阶段}
    entity: opportunity
    group_by: [stage]
    chart: bar
  by_owner: {entity: opportunity, group_by: [owner]}
dashboards:
  sales: {roles: [sales_rep], widgets: [{report: by_stage}, {report: by_owner}]}
""")
    write(overlay, "sales.yaml", """\
reports:
  by_stage:
    label: {zh: 各阶段商机}
    chart: funnel
  by_owner: {remove: true}
  by_month: {entity: opportunity, group_by: [{field: close_date, bucket: month}]}
dashboards:
  sales: {widgets: [{report: by_stage, width: 12}, {report: by_month}]}
""")
    meta = load(base, overlay)
    r = meta.reports["by_stage"]
    assert (dict(r.label), r.chart, r.group_by[0].field) == (
        {"en": "By stage", "zh": "各阶段商机"}, "funnel", "stage")
    assert set(meta.reports) == {"by_stage", "by_month"}
    assert [(w.report, w.width) for w in meta.dashboards["sales"].widgets] == [
        ("by_stage", 12), ("by_month", 6)]
    assert meta.dashboards["sales"].roles == ("sales_rep",)
    # a base dashboard that still shows the removed report is an error of the overlay's
    write(overlay, "sales.yaml", "reports:\n  by_owner: {remove: true}\n")
    assert [e.code for e in errors_of(base, overlay)] == ["CRM-E125"]


def test_twice_in_one_layer_and_removing_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    write(folder, "a.yaml", "reports:\n  x: {entity: lead}\n")
    write(folder, "b.yaml", "reports:\n  x: {entity: case}\n  y: {remove: true}\n")
    errs = errors_of(folder)
    assert [(e.code, e.source.line) for e in errs] == [("CRM-E119", 2), ("CRM-E119", 3)]
    assert "already defined in" in errs[0].message and "a.yaml:2" in errs[0].message


def test_the_folder_kind_in_config_yaml_and_the_file_keys(tmp_path: Path) -> None:
    from app.context import Context
    from app.settings import load_settings

    write(tmp_path / "reports", "sales.yaml", "reports:\n  leads: {entity: lead}\n")
    (tmp_path / "schemas").symlink_to(SCHEMAS)
    write(tmp_path, "config.yaml", f"schemas: schemas\nreports: reports\n"
                                   f"roles: [{', '.join(ROLES)}]\n")
    ctx = Context(load_settings(tmp_path / "config.yaml", environ={}))
    assert ctx.settings.report_dirs == [(tmp_path / "reports").resolve()]
    files = ctx.yaml_files()
    assert FileKey.parse("reports/0/sales.yaml") in files.texts
    assert files.top("reports") == 0
    assert set(ctx.yaml_meta(files).reports) == {"leads"}
    edited = files.changed({FileKey("reports", 0, "sales.yaml"):
                            "reports:\n  leads: {entity: lead, chart: pie}\n"})
    with pytest.raises(ConfigErrors) as info:  # a pie needs a grouping
        ctx.yaml_meta(edited)
    assert [e.code for e in info.value.errors] == ["CRM-E124"]
    stored = ConfigFiles.from_stored(files.dirs, files.to_stored())
    assert stored.texts == files.texts


def test_the_designer_edits_and_publishes_a_reports_file(tmp_path: Path,
                                                         database_url: str) -> None:
    import shutil

    from app.designer.service import Designer
    from app.migrate.publish import active_version
    from tests.designerkit import designer_deployment

    shutil.copytree(ROOT / "reports", tmp_path / "reports")
    ctx = designer_deployment(tmp_path, database_url, extra_config="reports: reports\n")
    try:
        designer = Designer(ctx)
        designer.add("admin", {"op": "file", "file": "reports/0/mine.yaml",
                               "text": "reports:\n  leads: {entity: lead, group_by: [sorce]}\n"})
        preview = designer.preview("admin")
        assert [(e.code, e.source.line) for e in preview.errors] == [("CRM-E120", 2)]
        assert preview.errors[0].source.file.endswith("reports/mine.yaml")
        designer.add("admin", {"op": "file", "file": "reports/0/mine.yaml",
                               "text": "reports:\n  leads: {entity: lead, group_by: [source]}\n"})
        applied = designer.apply("admin")
        assert (tmp_path / "reports" / "mine.yaml").exists() and applied.version
        with ctx.engine.connect() as conn:
            _version, live = active_version(conn)
        assert live is not None and "leads" in live.reports
        assert "pipeline_by_stage" in live.reports
    finally:
        ctx.dispose()


def test_the_editors_json_schema_is_current() -> None:
    import json

    from app.meta.reports import file_schema

    shipped = json.loads((ROOT / "app/meta/reports.schema.json").read_text(encoding="utf-8"))
    assert shipped == file_schema()  # regenerate: json.dumps(file_schema(), indent=2)
    for path in (ROOT / "reports").glob("*.yaml"):
        assert path.read_text(encoding="utf-8").startswith(
            "# yaml-language-server: $schema=../app/meta/reports.schema.json\n"), path
