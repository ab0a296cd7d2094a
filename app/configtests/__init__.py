"""Config tests: declarative checks an implementer writes in YAML ("a sales rep cannot see the
margin", "a 45% discount goes to the manager, then a director", "a won deal needs a close
date"), run against a config (`crm config test`, and the designer before it applies a change).

    checks, errors = load_checks(settings.config_test_dirs)   # the files (checkfile.py)
    results = run_checks(meta, checks, engine)                 # any Meta: live or candidate

No Flask here; only an approval check's `approvers` reads the database (users), and only when
given an engine. The file format is docs/config-tests.md.
"""

from __future__ import annotations

from app.configtests.checkfile import KINDS, Check, load_check_texts, load_checks
from app.configtests.run import CheckResult, run_checks

__all__ = ["KINDS", "Check", "CheckResult", "load_check_texts", "load_checks", "run_checks"]
