"""Plan steps: what a schema change does, how safe it is, and what it does to the data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SAFE = "safe"
DESTRUCTIVE = "destructive"
UNSUPPORTED = "unsupported"


@dataclass
class Step:
    """One change. `data` holds what applying needs (field definitions, backfill values), so a
    step written to `migrations/` replays on another deployment without its YAML."""

    op: str
    entity: str
    summary: str
    safety: str = SAFE
    column: str | None = None
    rows: int | None = None
    #: plain sentences about data: values that would not convert, orphaned picklist values
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "entity": self.entity, "safety": self.safety,
                               "summary": self.summary}
        if self.column:
            out["column"] = self.column
        if self.rows is not None:
            out["rows"] = self.rows
        if self.problems:
            out["problems"] = list(self.problems)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.data:
            out["data"] = self.data
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        return cls(op=d["op"], entity=d["entity"], summary=d.get("summary", ""),
                   safety=d.get("safety", SAFE), column=d.get("column"), rows=d.get("rows"),
                   problems=list(d.get("problems", [])), warnings=list(d.get("warnings", [])),
                   data=dict(d.get("data", {})))


@dataclass
class Plan:
    steps: list[Step]
    base_version: int | None
    base_digest: str | None
    target_digest: str
    purge: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.steps

    def by_safety(self, safety: str) -> list[Step]:
        return [s for s in self.steps if s.safety == safety]

    @property
    def unsupported(self) -> list[Step]:
        return self.by_safety(UNSUPPORTED)

    @property
    def destructive(self) -> list[Step]:
        return self.by_safety(DESTRUCTIVE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_version": self.base_version,
            "base_digest": self.base_digest,
            "target_digest": self.target_digest,
            "purge": self.purge,
            "steps": [s.to_dict() for s in self.steps],
        }

    def render(self) -> str:
        return render_steps(self.steps, self.base_digest, self.target_digest)


MARK = {SAFE: "+", DESTRUCTIVE: "!", UNSUPPORTED: "x"}


def render_steps(steps: Sequence[Step], base: str | None, target: str) -> str:
    lines = [f"Plan: config {(base or 'none')[:12]} -> {target[:12]}"]
    if not steps:
        lines.append("  No changes: the database already matches the config.")
        return "\n".join(lines)
    for s in steps:
        rows = f" ({s.rows} rows)" if s.rows is not None else ""
        lines.append(f"  {MARK[s.safety]} [{s.safety}] {s.summary}{rows}")
        lines.extend(f"      ! {w}" for w in s.warnings)
        lines.extend(f"      x {p}" for p in s.problems)
    counts = {k: sum(1 for s in steps if s.safety == k) for k in MARK}
    lines.append(f"  {counts[SAFE]} safe, {counts[DESTRUCTIVE]} destructive, "
                 f"{counts[UNSUPPORTED]} unsupported")
    return "\n".join(lines)
