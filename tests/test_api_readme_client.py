"""The API client script in the README runs as printed against a live server and prints
what the README says it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

from tests.apikit import token_for
from tests.webkit import ROOT, live_server


def readme_script() -> tuple[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text.split("<!-- api-client -->", 1)[1]
    blocks = re.findall(r"```(\w*)\n(.*?)```", after, re.S)
    (lang, script), (_lang, output) = blocks[0], blocks[1]
    assert lang == "python"
    return script, output


def test_readme_client_works_as_printed(crm: Any) -> None:
    script, expected = readme_script()
    token = token_for(crm)["Authorization"].removeprefix("Bearer ")
    with live_server(crm) as base:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "CRM_URL": base,
                                               "CRM_TOKEN": token, "PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
