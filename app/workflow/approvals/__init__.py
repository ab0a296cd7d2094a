"""Approval processes at work: engine.py (submit, decide, recall, reassign, comment), steps.py
(moving through the steps on the pinned definition), routing.py (who approves), effects.py
(actions and notifications), lock.py (the record lock), timers.py (reminders, escalations,
SLA escalations), inbox.py (what each user sees), simulate.py and stats.py."""
