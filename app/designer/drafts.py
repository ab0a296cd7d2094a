"""Each admin's draft: the designer changes they made and not yet applied, on top of the config
version they started from. Stored in the database (sys_config_draft), so a draft survives a
restart and follows the admin to any app server."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app import clock
from app.designer.changes import Change
from app.model.designer import config_drafts


@dataclass
class Draft:
    author: str
    base_version: int | None
    changes: list[dict[str, Any]] = field(default_factory=list)
    id: int | None = None


def load(conn: sa.Connection, author: str) -> Draft | None:
    row = conn.execute(sa.select(config_drafts).where(config_drafts.c.author == author)).first()
    if row is None:
        return None
    return Draft(author, row.base_version, list(row.changes or []), int(row.id))


def save(conn: sa.Connection, draft: Draft) -> Draft:
    values = {"base_version": draft.base_version, "changes": list(draft.changes),
              "updated_at": clock.now()}
    if draft.id is None:
        draft.id = int(conn.execute(sa.insert(config_drafts).values(
            author=draft.author, **values).returning(config_drafts.c.id)).scalar_one())
    else:
        conn.execute(sa.update(config_drafts).where(config_drafts.c.id == draft.id)
                     .values(**values))
    return draft


def delete(conn: sa.Connection, author: str) -> None:
    conn.execute(sa.delete(config_drafts).where(config_drafts.c.author == author))


def plain_change(change: Change) -> dict[str, Any]:
    """A change as JSON-safe data (what is stored). Text with a lone surrogate (half of a
    character: JSON's "\\ud800" sends one) cannot be stored and is refused, naming the key."""
    import json

    from app.designer.changes import ChangeError

    try:
        text = json.dumps(dict(change), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ChangeError(f"the change holds a value that is not plain data: {exc}") from None
    except RecursionError:
        raise ChangeError("the change is nested too deeply") from None
    if _SURROGATE.search(text):
        where = _SURROGATE.sub(lambda m: ascii(m.group())[1:-1], _surrogate_at(change))
        raise ChangeError(f"'{where}' holds text with half of a character (a lone surrogate, "
                          "such as \\ud800), which cannot be stored; remove it")
    return dict(json.loads(text))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_at(change: Change) -> str:
    """The key (dotted path) of the first text, key or value, with a lone surrogate."""
    stack: list[tuple[str, Any]] = [("", dict(change))]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return path
        elif isinstance(value, Mapping):
            for key, item in reversed(list(value.items())):
                name = f"{path}.{key}" if path else str(key)
                if _SURROGATE.search(str(key)):
                    return name
                stack.append((name, item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return "the change"
