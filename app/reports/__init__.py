"""Reports, dashboards and alerts (no Flask): see app/reports/types.py."""
