"""Field types: one class per type, all registered in `registry`.

Importing this package registers every built-in type (string ... json). Plugins register their
own with `app.fields.base.register` (a second class under a taken name is refused).
"""

from app.fields import (  # noqa: F401  (imported to register their types)
    choices,
    computed,
    dates,
    numbers,
    relations,
    special,
    text,
)
from app.fields.base import ConfigProblem, FieldType, FieldValueError, registry

__all__ = ["ConfigProblem", "FieldType", "FieldValueError", "registry"]
