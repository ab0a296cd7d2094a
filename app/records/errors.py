"""What a records operation can refuse, each carrying what the user needs to fix it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: the key of problems that belong to the whole record rather than one field
RECORD = "__record__"


class RecordError(Exception):
    """A records operation that cannot be done; `str()` is a sentence for the user."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RecordError):
    status = 404


class Forbidden(RecordError):
    status = 403


class ValidationFailed(RecordError):
    """Problems by field name (`RECORD` for rules that name no field), in the user's language."""

    status = 422

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in errors.items() if v}
        first = next(iter(self.errors.items()), ("", [""]))
        prefix = "" if first[0] == RECORD else f"{first[0]}: "
        super().__init__(prefix + first[1][0])


@dataclass(frozen=True)
class TheirChange:
    """One field another person changed since the version the writer started from."""

    field: str
    old: Any
    new: Any
    by: str | None
    at: Any


@dataclass
class ConflictInfo:
    current: dict[str, Any]
    changes: list[TheirChange] = field(default_factory=list)


class Conflict(RecordError):
    """The record changed since the writer read it (optimistic locking): nothing was saved.
    `current` is the record as it is now, `changes` what the others changed, field by field."""

    status = 409

    def __init__(self, message: str, info: ConflictInfo) -> None:
        super().__init__(message)
        self.current = info.current
        self.changes = info.changes


class ItemFailed(RecordError):
    """One item of a batch was refused, so none was saved: `index` (from 0) and the refusal."""

    def __init__(self, index: int, error: RecordError) -> None:
        super().__init__(error.message)
        self.index = index
        self.error = error
        self.status = error.status


class Locked(RecordError):
    """The record is locked (an approval is pending); nothing was changed."""

    status = 423
