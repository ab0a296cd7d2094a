"""An entity may not take a name the web app serves itself (its pages would be unreachable)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta.errors import ConfigErrors
from tests.factories import meta_of, write_schema


@pytest.mark.parametrize("name", ["login", "search", "admin", "me"])
def test_web_path_names_are_reserved(tmp_path: Path, name: str) -> None:
    write_schema(tmp_path, name, {"entity": name, "fields": {"x": {"type": "string"}}})
    with pytest.raises(ConfigErrors) as err:
        meta_of(tmp_path)
    assert any(e.code == "CRM-E015" and f"/{name}/" in e.message for e in err.value.errors)


def test_every_first_path_segment_the_app_serves_is_reserved(web: object) -> None:
    """A page added to the app (reports, imports, ...) must reserve its first path segment,
    else an entity of that name would be unreachable."""
    from app.meta.checks import WEB_PATHS
    from app.meta.types import IDENTIFIER

    served = {str(rule.rule).split("/")[1] for rule in web.url_map.iter_rules()}  # type: ignore[attr-defined]
    served = {s for s in served if IDENTIFIER.match(s)}  # what an entity could be named
    assert served - WEB_PATHS == set()
