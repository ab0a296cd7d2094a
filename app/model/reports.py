"""Tables of reports and dashboards users build (app/reports/store.py) and the state of the
config's alerts (app/reports/alerts.py). Config reports and dashboards live in the config
version (reports/*.yaml), not here."""

from __future__ import annotations

import sqlalchemy as sa

from app.model.system import _now, system_metadata

#: a report a user built: its definition in the YAML/JSON shape of a config report
#: (app.reports.definition.data_of_report); `shared`: everyone who may read its entity sees it
user_reports = sa.Table(
    "sys_report",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("shared", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Index("ix_sys_report_owner", "owner_id"),
    sa.Index("ix_sys_report_shared", "shared"),
)

#: a user's own dashboard: report widgets (app.reports.definition.data_of_widget each)
user_dashboards = sa.Table(
    "sys_dashboard",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("sys_user.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("widgets", sa.JSON, nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Index("ix_sys_dashboard_owner", "owner_id"),
)

#: what the alert task last saw of each config alert: when it checked, the value, and whether
#: the condition held (it notifies when `firing` turns true, not while it stays true)
report_alerts = sa.Table(
    "sys_report_alert",
    system_metadata,
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("last_checked_at", sa.DateTime(timezone=True)),
    sa.Column("last_value", sa.Float),
    sa.Column("firing", sa.Boolean, nullable=False, default=False),
    sa.Column("last_fired_at", sa.DateTime(timezone=True)),
    #: why the last check could not run (the report no longer fits the config ...), or None
    sa.Column("last_error", sa.Text),
)
