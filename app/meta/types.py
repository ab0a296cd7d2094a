"""Typed, frozen metadata: what the rest of the engine reads after the YAML is loaded and checked.

Nothing here imports Flask or SQLAlchemy. A `Meta` is one resolved configuration: every overlay
merged, presets expanded, every name checked. It is immutable so one instance can be shared by all
requests served on one config version.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

#: Columns every entity table has; field names may not take them.
SYSTEM_COLUMNS: tuple[str, ...] = (
    "id",
    "version",
    "created_at",
    "updated_at",
    "created_by_id",
    "updated_by_id",
    "owner_id",
    "deleted_at",
)

#: Words a field or entity may not be called (system columns, SQL keywords that trip up
#: PostgreSQL or SQLite when unquoted, and names the ORM classes use).
RESERVED_NAMES: frozenset[str] = frozenset(
    {
        *SYSTEM_COLUMNS,
        "owner",
        "created_by",
        "updated_by",
        "metadata",
        "registry",
        "query",
        "select",
        "from",
        "where",
        "table",
        "order",
        "group",
        "user",
        "all",
        "and",
        "or",
        "not",
        "null",
        "true",
        "false",
        "in",
        "is",
        "as",
        "limit",
        "offset",
        "default",
        "check",
        "column",
        "primary",
        "references",
        "constraint",
        "if",
    }
)

Labels = Mapping[str, str]
"""A text in several languages, keyed by locale (`en`, `zh`)."""


def freeze(value: Any) -> Any:
    """Deep-freeze plain YAML data: dicts become read-only mappings, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of `freeze`: plain dicts and lists, for JSON and YAML output."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


def label_text(labels: Labels | None, locale: str, fallback: str) -> str:
    """The label in `locale` (`zh_CN` falls back to `zh`), else English, else `fallback`."""
    if not labels:
        return fallback
    for key in (locale, locale.split("_")[0], "en"):
        if key in labels:
            return labels[key]
    return next(iter(labels.values()), fallback)


@dataclass(frozen=True)
class Source:
    """Where something was written: a file and a 1-based line and column."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file


@dataclass(frozen=True)
class Choice:
    """One value of a picklist or multi-picklist, in display order."""

    value: str
    label: Labels = field(default_factory=dict)
    color: str | None = None
    #: extra attributes admins attach to a choice (for example a stage's `probability`)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldDef:
    """One field of an entity, options already merged from presets and overlays."""

    name: str
    type: str
    label: Labels = field(default_factory=dict)
    help: Labels = field(default_factory=dict)
    required: bool = False
    unique: bool = False
    #: a literal default, or None; `default_expr` holds an expression default instead
    default: Any = None
    default_expr: str | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    read_only: bool = False
    hidden: bool = False
    indexed: bool = False
    visible_when: str | None = None
    required_when: str | None = None
    #: previous name of this field: the migration renames the column and keeps its data
    renamed_from: str | None = None
    #: the field holds a person's data (name, e-mail, phone, address, birthday ...): exported by
    #: and erased by a personal data request (app/records/privacy.py)
    personal: bool = False
    #: the value is encrypted at rest (app/crypto.py): never searched, sorted or filtered on
    encrypted: bool = False
    #: type-specific options (`to`, `choices`, `expr`, `result`, `format`, `precision`, ...)
    options: Mapping[str, Any] = field(default_factory=dict)
    source: Source = field(default_factory=lambda: Source("<unknown>"))

    def opt(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    @property
    def choices(self) -> tuple[Choice, ...]:
        return tuple(self.options.get("choices", ()))

    def label_for(self, locale: str = "en") -> str:
        return label_text(self.label, locale, self.name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class RuleDef:
    """A validation rule across fields: when `when` is true, the record is refused."""

    name: str
    when: str
    message: Labels
    field: str | None = None
    source: Source = dataclasses.field(default_factory=lambda: Source("<unknown>"))


@dataclass(frozen=True)
class ListDef:
    """An entity's default list view (`list:` in YAML): columns, sort, page size."""

    #: field names shown as columns, in order; empty means "the title and a few fields"
    columns: tuple[str, ...] = ()
    #: a field name, `-` first for descending (`-close_date`); None means newest first
    sort: str | None = None
    page_size: int | None = None
    source: Source = field(default_factory=lambda: Source("<unknown>"))


@dataclass(frozen=True)
class ViewDef:
    """A shared list view everyone sees (`views:` in YAML): a named set of columns, filters
    (`{field: {op: value}}`), sort and search text."""

    name: str
    label: Labels = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    #: field -> operator -> value (a list for `in`, `not_in` and `between`)
    filters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sort: str | None = None
    search: str | None = None
    #: only the records the signed-in user owns
    mine: bool = False
    source: Source = field(default_factory=lambda: Source("<unknown>"))

    def label_for(self, locale: str = "en") -> str:
        return label_text(self.label, locale, self.name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class EntityDef:
    name: str
    label: Labels
    plural: Labels
    title: str | None
    fields: Mapping[str, FieldDef]
    rules: tuple[RuleDef, ...] = ()
    #: role -> that role's grant on this entity (app/meta/access.py)
    permissions: Mapping[str, Any] = field(default_factory=dict)
    #: form/detail layout as written (sections of fields); the UI issue gives it meaning
    layout: tuple[Mapping[str, Any], ...] = ()
    #: fields the overlays removed: their columns stay (hidden) until an explicit purge
    removed_fields: tuple[str, ...] = ()
    icon: str | None = None
    #: the default list view (`list:`) and the shared views (`views:`)
    list_view: ListDef = field(default_factory=ListDef)
    views: tuple[ViewDef, ...] = ()
    source: Source = field(default_factory=lambda: Source("<unknown>"))

    @property
    def table(self) -> str:
        return table_name(self.name)

    def label_for(self, locale: str = "en") -> str:
        return label_text(self.label, locale, self.name.replace("_", " ").capitalize())

    def plural_for(self, locale: str = "en") -> str:
        return label_text(self.plural, locale, self.label_for(locale))

    def __iter__(self) -> Iterator[FieldDef]:
        return iter(self.fields.values())


def table_name(entity: str) -> str:
    """The SQL table of an entity: a fixed prefix keeps entity tables apart from system ones."""
    return f"ent_{entity}"


#: record events webhooks and automations react to (`<entity>.<event>` in `events:`)
RECORD_EVENTS: tuple[str, ...] = ("created", "updated", "deleted", "restored", "transition")


@dataclass(frozen=True)
class WebhookDef:
    """An outbound webhook (`webhooks:` in workflows/*.yaml): where to POST which events."""

    name: str
    #: `<entity>.<event>`, `<entity>.*` or `*`
    events: tuple[str, ...]
    url: str | None = None
    #: name of an environment variable holding the URL (secrets stay out of YAML)
    url_env: str | None = None
    #: name of an environment variable holding the HMAC key
    secret_env: str | None = None
    #: record fields sent in `data` (empty: all)
    fields: tuple[str, ...] = ()
    active: bool = True
    source: Source = field(default_factory=lambda: Source("<unknown>"))

    def matches(self, entity: str, event: str) -> bool:
        return any(p in ("*", f"{entity}.*", f"{entity}.{event}") for p in self.events)


@dataclass(frozen=True)
class ActionRef:
    """One step of an automation: a registered action's name and its parameters."""

    action: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AutomationDef:
    """`automations:` in workflows/*.yaml: on an entity's events, when a condition holds, run
    actions (on the task queue, after the record's transaction committed)."""

    name: str
    entity: str
    on: tuple[str, ...]
    actions: tuple[ActionRef, ...]
    when: str | None = None
    active: bool = True
    source: Source = field(default_factory=lambda: Source("<unknown>"))


@dataclass(frozen=True)
class TransitionDef:
    """One allowed move of a stage machine (`transitions:`): from these values (`*`: any) to
    those, for these roles (empty: everyone), when a condition on the new values holds."""

    from_: tuple[str, ...]
    to: tuple[str, ...]
    roles: tuple[str, ...] = ()
    when: str | None = None
    #: what a refused move says when `roles` or `when` refuse it (default: a generated text)
    message: Labels = field(default_factory=dict)

    def leaves(self, value: str | None) -> bool:
        return "*" in self.from_ or value in self.from_


@dataclass(frozen=True)
class StageMachineDef:
    """`stages:` in workflows/*.yaml: the moves a picklist field of an entity may make, the
    fields required on entering a stage and the actions run then (app/meta/stages.py)."""

    name: str
    entity: str
    field: str
    #: values a new record may start in (empty: any)
    initial: tuple[str, ...] = ()
    transitions: tuple[TransitionDef, ...] = ()
    #: stage -> fields that must have a value on entering it
    require: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    #: stage -> actions run on entering it (`set` and `create_activity` in the transaction,
    #: the others on the task queue after commit)
    on_enter: Mapping[str, tuple[ActionRef, ...]] = dataclasses.field(default_factory=dict)
    source: Source = dataclasses.field(default_factory=lambda: Source("<unknown>"))


@dataclass(frozen=True)
class ConversionLinesDef:
    """`creates.<target>.lines[i]`: the source's child records (`from`, linked by `via`)
    copied as child records of the target (`to`, linked by `link`), in `order`
    (app/meta/conversions.py)."""

    from_entity: str
    via: str
    to_entity: str
    link: str
    order: str | None = None
    #: line target field -> line source field or "@<target>" / "@source"
    fields: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class ConversionTargetDef:
    """One record a conversion creates (or matches): `creates.<name>` (app/meta/conversions.py)."""

    name: str
    entity: str
    #: target field -> source field or "@<earlier target>" (preset blocks already expanded)
    fields: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: target field -> source field: reuse an existing record whose fields equal these
    match: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: the user may leave it out
    optional: bool = False
    #: child rows of the source copied to children of this target (quote lines -> contract lines)
    lines: tuple[ConversionLinesDef, ...] = ()


@dataclass(frozen=True)
class ConversionDef:
    """`conversions:` in workflows/*.yaml: turn a record (a qualified lead) into others (an
    account, contact and opportunity) in one transaction (app/workflow/convert.py)."""

    name: str
    entity: str
    targets: tuple[ConversionTargetDef, ...] = ()
    when: str | None = None
    label: Labels = dataclasses.field(default_factory=dict)
    #: source field -> value set afterwards ("@<target>", "now" or a plain value)
    then: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    source: Source = dataclasses.field(default_factory=lambda: Source("<unknown>"))
    #: a record may be converted again (else a filled-in `then` link refuses it)
    repeatable: bool = False


@dataclass(frozen=True)
class Meta:
    """One resolved configuration: every entity, after overlays, presets and checks."""

    entities: Mapping[str, EntityDef]
    roles: tuple[str, ...] = ()
    #: content hash of the resolved config (stable across key order and comments)
    digest: str = ""
    #: the files read, in the order they were merged (base pack first, overlays after)
    files: tuple[str, ...] = ()
    #: provenance: "entity/key", "entity.field", "entity.field/option" -> every place that set
    #: it, in merge order (the last one is in effect)
    provenance: Mapping[str, tuple[Source, ...]] = field(default_factory=dict)
    #: outbound webhooks and automations by name (workflows/*.yaml; app/meta/workflows.py)
    webhooks: Mapping[str, WebhookDef] = field(default_factory=dict)
    automations: Mapping[str, AutomationDef] = field(default_factory=dict)
    #: stage machines by name (workflows/*.yaml `stages:`; app/meta/stages.py)
    stages: Mapping[str, StageMachineDef] = field(default_factory=dict)
    #: conversions by name (workflows/*.yaml `conversions:`; app/meta/conversions.py)
    conversions: Mapping[str, ConversionDef] = field(default_factory=dict)
    #: approval processes and timed escalations by name (workflows/*.yaml `approvals:`,
    #: `escalations:`; app/meta/approvals.py ApprovalDef / EscalationDef)
    approvals: Mapping[str, Any] = field(default_factory=dict)
    escalations: Mapping[str, Any] = field(default_factory=dict)
    #: roles' hierarchy and default grants, teams and sharing rules (app/meta/access.py);
    #: None when the config has no access file (then only admins may do anything)
    access: Any = None
    #: reports, dashboards and alerts by name (reports/*.yaml; app/meta/reports.py):
    #: app.reports.types ReportDef / DashboardDef / AlertDef
    reports: Mapping[str, Any] = field(default_factory=dict)
    dashboards: Mapping[str, Any] = field(default_factory=dict)
    alerts: Mapping[str, Any] = field(default_factory=dict)
    #: feature sections of workflows/*.yaml by section, then name (app/meta/sections.py)
    features: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def feature(self, section: str) -> Mapping[str, Any]:
        """The checked entries of one feature section (`documents`, ...), by name."""
        return self.features.get(section) or {}

    def entity(self, name: str) -> EntityDef:
        return self.entities[name]

    def __iter__(self) -> Iterator[EntityDef]:
        return iter(self.entities.values())
