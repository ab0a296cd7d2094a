"""Actions: named steps that automations and workflow transitions run (`workflows/*.yaml`).

An action is registered once, by a built-in module or by a plugin's `crm_actions` hook, and used
by name in YAML with its parameters:

```yaml
actions:
  - chat_notify: {url_env: CRM_CHAT_WEBHOOK, text: "{name} was won: {amount}"}
```

`params_schema` (JSON Schema) is checked when the config loads, so a typo in YAML is a config
error with a file and line, not a failure at run time. Every string parameter is a template
(`ActionContext.render`) and is checked by `check_template` then too. `run` gets an
`ActionContext` (the event, the record as saved, who did it) and the parameters; it runs on
the task queue, after the record's transaction committed. Raising makes the task fail (and be
retried where the runner retries).
"""

from __future__ import annotations

import re
import string
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.context import Context


@dataclass(frozen=True)
class ActionContext:
    """What an action knows about the event that triggered it."""

    #: the deployment (settings, database engine)
    ctx: Context
    entity: str
    #: created, updated, deleted, restored or transition
    event: str
    #: the record as saved, JSON-ready (dates as ISO text, decimals as text)
    record: Mapping[str, Any]
    #: field -> [old, new] for the fields the change set
    changes: Mapping[str, Any] = field(default_factory=dict)
    #: sys_user id of who made the change (None: the system)
    actor_id: int | None = None

    def render(self, template: str) -> str:
        """`template` with `{field}` replaced by the record's values (`{id}`, `{name}`,
        `{amount}` ..., `{entity}`, `{event}`) and `{{` / `}}` by a brace. Only plain names
        are replaced (no attribute, index, conversion or format spec); an unknown name, or
        anything else in braces, stays as written, so a typo shows in the output instead of
        failing the action."""
        values = {k: "" if v is None else v for k, v in self.record.items()}
        values.setdefault("entity", self.entity)
        values.setdefault("event", self.event)

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return match.group(0)[0]
            return str(values[name]) if name in values else match.group(0)

        return _PLACEHOLDER.sub(one, template)


#: `{{`, `}}` or a plain `{name}`
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def check_template(template: str) -> str | None:
    """What is wrong with an action's text template, or None: only `{field}` names and `{{` /
    `}}` (literal braces) are allowed, no attribute or index access, conversion or format
    spec, and every brace must be closed."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"{exc} (write {{{{ or }}}} for a literal brace)"
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        shown = "{" + name + ("!" + conversion if conversion else "") + \
            (":" + spec if spec else "") + "}"
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            return f"'{shown}' is not a field name: only plain {{field}} names are replaced"
        if conversion or spec:
            return f"'{shown}': conversions and format specs are not supported, write {{{name}}}"
    return None


@dataclass(frozen=True)
class Action:
    """A named step. `name` is how YAML refers to it; `run(context, params)` does it."""

    name: str
    run: Callable[[ActionContext, Mapping[str, Any]], None]
    #: JSON Schema of the parameters (an object schema); checked when the config loads
    params_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    #: a short description for the designer and docs
    label: str = ""


class ActionRegistry:
    """Actions by name. `app.actions.registry` is the one the app uses."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}
        self._lock = threading.Lock()

    def register(self, action: Action) -> Action:
        if not action.name.isidentifier():
            raise ValueError(f"{action.name!r} cannot be an action name")
        with self._lock:
            known = self._actions.get(action.name)
            if known is not None and known.run is not action.run:
                raise ValueError(f"action {action.name!r} is registered twice")
            self._actions[action.name] = action
        return action

    def get(self, name: str) -> Action | None:
        return self._actions.get(name)

    def names(self) -> list[str]:
        return sorted(self._actions)

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self) -> Iterator[Action]:
        return iter([self._actions[n] for n in self.names()])


registry = ActionRegistry()
