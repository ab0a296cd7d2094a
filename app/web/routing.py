"""URL rules whose URL builders are compiled on first use.

Werkzeug compiles two Python functions per URL rule (to build URLs with and without extra query
arguments) when the rule is added. The app of one config version has over 300 rules (generated
pages, the API, one flask-admin view per entity), and a new app is built on every config change
(`app.runtime.Runtime`): that compiling was half the time of building an app, for builders most
of which are never called. `LazyRule` compiles a builder the first time `url_for` needs it.
Matching requests is unchanged (the regular expressions are compiled as before).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.routing import Rule


class LazyRule(Rule):
    def _compile_builder(self, append_unknown: bool = True
                         ) -> Callable[..., tuple[str, str]]:
        compiled: list[Callable[..., tuple[str, str]]] = []
        eager = super()._compile_builder

        def build(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            if not compiled:  # two threads may both compile: the results are the same
                compiled.append(eager(append_unknown).__get__(rule, None))
            return compiled[0](*args, **kwargs)

        return build


class CrmFlask(Flask):
    url_rule_class = LazyRule
