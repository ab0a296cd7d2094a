"""The time the workflow engine and the task queue's timed work read: `clock.now()`.

Always timezone-aware UTC. Tests (and `crm workflow tick --at`) move it with `frozen(at)` or
`set_now(at)`; nothing else should call `datetime.now()` for reminders, escalations, due dates
or notifications, so a test can drive a week of escalations in a second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_override: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current time (UTC, aware), or the time a test or a command set."""
    return _override() if _override is not None else datetime.now(UTC)


def set_now(at: datetime | None) -> None:
    """Freeze the clock at `at` (aware; naive means UTC) for this process; None: real time."""
    global _override
    if at is None:
        _override = None
        return
    fixed = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    _override = lambda: fixed  # noqa: E731


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward by `delta` (freezing it at now + delta if it ran)."""
    moved = now() + delta
    set_now(moved)
    return moved


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """The clock stands at `at` inside the block (then goes back to what it was)."""
    global _override
    before = _override
    set_now(at)
    try:
        yield
    finally:
        _override = before
