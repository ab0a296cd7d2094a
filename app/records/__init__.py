"""The records service: the one way to read and write entity records (see service.py)."""

from app.records.change import SYSTEM, Actor, Change
from app.records.errors import (
    RECORD,
    Conflict,
    Forbidden,
    ItemFailed,
    Locked,
    NotFound,
    RecordError,
    TheirChange,
    ValidationFailed,
)
from app.records.service import Records

__all__ = ["RECORD", "SYSTEM", "Actor", "Change", "Conflict", "Forbidden", "ItemFailed", "Locked",
           "NotFound", "RecordError", "Records", "TheirChange", "ValidationFailed"]
