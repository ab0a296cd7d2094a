"""Fill translations into a catalogue from a tab-separated file of `msgid<TAB>msgstr` lines
(after `make messages`; then `make translations`). Only empty or fuzzy entries are filled.

    .venv/bin/python scripts/translate.py zh_CN my-strings.tsv
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

LOCALES = Path(__file__).resolve().parent.parent / "app" / "translations"


def main(locale: str, tsv: str) -> int:
    wanted = {}
    for line in Path(tsv).read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            msgid, msgstr = line.split("\t", 1)
            wanted[msgid.replace("\\n", "\n")] = msgstr.replace("\\n", "\n")
    path = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=locale)
    filled = 0
    for message in catalog:
        if isinstance(message.id, str) and message.id in wanted and (
                not message.string or message.fuzzy):
            message.string = wanted[message.id]
            message.flags.discard("fuzzy")
            filled += 1
    with path.open("wb") as f:
        write_po(f, catalog, width=76)
    print(f"{filled} of {len(wanted)} filled in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
