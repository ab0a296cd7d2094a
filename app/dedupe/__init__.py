"""Duplicate detection and merge of records (docs/duplicates.md). No Flask: the web pages
(app/web/duplicates.py), the API (app/api/duplicates.py) and the CLI (app/cli_duplicates.py)
call these.

- `normalize`: how a duplicate rule compares values (exact, text, email, phone, company);
- `find`: groups of duplicates by the rules of workflows/*.yaml `duplicates:`, and the cheap
  check of one record's duplicates;
- `dismiss`: "not duplicates" marks (`sys_dedupe_dismissed`);
- `plan`: what a merge would do (fields to choose, defaults, related records that move);
- `merge`: the merge itself, in one transaction through the records service.
"""

from app.dedupe.dismiss import dismiss, dismissed_pairs
from app.dedupe.find import Group, duplicates_of, find, may_merge, mergeable, rules_for
from app.dedupe.merge import Merged, merge, merged_into
from app.dedupe.plan import MergeRefused, Plan, plan

__all__ = [
           "Group",
           "MergeRefused",
           "Merged",
           "Plan",
           "dismiss",
           "dismissed_pairs",
           "duplicates_of",
           "find",
           "may_merge",
           "merge",
           "mergeable",
           "merged_into",
           "plan",
           "rules_for",
]
