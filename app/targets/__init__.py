"""Sales targets: attainment of reps and teams against their monthly or quarterly targets, a
leaderboard, and setting a team's targets at once (docs/targets.md). No Flask here.

- periods.py: a month or a quarter (`2026-11`, `2026-Q4`, `this_quarter` ...);
- compute.py: what each user reached on a metric in a period (one grouped query);
- service.py: the board (attainment and leaderboard) and who may see which numbers;
- setting.py: the "Set targets" sheet of a team, saved in one transaction;
- plugin.py: the checks of sales_target records (period start, duplicates, names);
- demo.py: targets for the demo reps.

The metrics are config: `targets:` in workflows/*.yaml (app/meta/targets.py).
"""

from app.targets.periods import Period, PeriodError, parse_period
from app.targets.service import Board, Line, attainment, leaderboard, metric_named

__all__ = ["Board", "Line", "Period", "PeriodError", "attainment", "leaderboard",
           "metric_named", "parse_period"]
