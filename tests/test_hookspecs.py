"""The hook specs are the plugin contract: each hook is documented, sits under a phase
heading of app/hookspecs.py (a phase the module docstring lists), and is explained in
docs/plugins.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from app import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HEADING = re.compile(r"^# --- (\d)\. ([a-z ]+?)(?::.*)? -+$")


def specs() -> dict[str, object]:
    found = {n: getattr(hookspecs, n) for n in dir(hookspecs) if n.startswith("crm_")}
    assert len(found) >= 10
    return found


def test_every_hook_is_documented() -> None:
    for name, spec in specs().items():
        assert spec.__doc__ and len(spec.__doc__.strip()) > 40, name


def test_every_hook_sits_under_a_phase_heading() -> None:
    phases = dict(re.findall(r"^(\d)\. ([a-z ]+?) —", hookspecs.__doc__ or "", re.M))
    assert set(phases) == {"1", "2", "3", "4", "5", "6"}
    phase_of: dict[str, str] = {}
    current = None
    for line in inspect.getsource(hookspecs).splitlines():
        heading = HEADING.match(line)
        if heading:
            number, title = heading.groups()
            assert phases.get(number) == title, line  # the heading names a listed phase
            current = number
        hook = re.match(r"def (crm_\w+)\(", line)
        if hook:
            assert current, f"{hook.group(1)} is above the first phase heading"
            phase_of[hook.group(1)] = current
    assert set(phase_of) == set(specs())


def test_every_hook_is_in_the_plugin_guide() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    missing = [name for name in specs()
               if not re.search(rf"`{name}(`|\()", guide)]
    assert not missing, f"docs/plugins.md does not explain {missing}"
