"""How a duplicate rule compares values (`normalize:` in workflows/*.yaml `duplicates:`).

`key(how, f, value)` is the value as compared (None: empty, which never matches):

- `exact`: as stored;
- `text`: NFKC (full-width letters, digits and spaces -> half-width), case folded, spaces
  collapsed, and spaces next to a Chinese character dropped (张　三 = 张三);
- `email`: like text;
- `phone`: the digits as dialled in China, without +86 / 0086 (app.fields.text.phone_digits);
- `company`: like text, without punctuation and legal forms (有限公司, 股份有限公司, Ltd, Inc,
  Co. ...) at the end, spaces dropped: "ACME Co., Ltd." = "Acme" = "ＡＣＭＥ有限公司".

The import's duplicate finder (app/imports/dedupe.py) does the text and exact comparisons the
same way: its `normalise` is reused here.

`like_pattern(how, key)` is a LIKE pattern every stored value with that key matches (its
characters in order, anything between): a cheap SQL pre-filter for one record's duplicates,
whose candidates are then compared by their keys.
"""

from __future__ import annotations

import re
from typing import Any

from app.fields.text import phone_digits
from app.imports.dedupe import normalise
from app.meta.types import FieldDef

#: Chinese characters (CJK unified ideographs, extension A, compatibility ideographs)
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_PUNCT = re.compile(r"[^\w\s]|_")
#: legal forms dropped from the end of a company name (after punctuation became spaces),
#: longest first
_CN_FORMS = ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "股份公司", "公司")
_EN_FORMS = frozenset({"ltd", "limited", "inc", "incorporated", "co", "company", "corp",
                       "corporation", "llc", "plc", "gmbh", "llp", "lp", "sa", "ag", "bv"})
#: characters a LIKE pattern must escape (with `\`)
_LIKE_SPECIAL = re.compile(r"([%_\\])")
#: the most characters of a key a LIKE pre-filter uses (a prefix of them is still a necessary
#: condition)
LIKE_CHARS = 48


def key(how: str, f: FieldDef, value: Any) -> Any:
    """The value as rule `how` compares it (None when empty: never a duplicate)."""
    if value is None or value == [] or (isinstance(value, str) and not value.strip()):
        return None
    if how == "exact":
        return normalise(f, value, "exact")
    if how == "phone":
        return phone_digits(str(value)) or None
    text = normalise(f, value) if isinstance(value, str) else normalise(f, str(value))
    if not isinstance(text, str):
        return text
    if how == "company":
        return company(text)
    return _CJK_SPACE.sub("", text) or None


def company(text: str) -> str | None:
    """A company name (already NFKC and case folded) without punctuation, legal forms and
    spaces; the name itself when nothing else is left."""
    words = " ".join(_PUNCT.sub(" ", text).split())
    changed = True
    while changed and words:
        changed = False
        form = next((x for x in _CN_FORMS if words.endswith(x)), None)  # the longest
        if form is not None and len(words) > len(form):
            words = words[: -len(form)].rstrip()
            changed = True
        parts = words.split(" ")
        if len(parts) > 1 and parts[-1] in _EN_FORMS:
            words = " ".join(parts[:-1])
            changed = True
    core = words.replace(" ", "")
    return core or text.replace(" ", "") or None


def like_pattern(how: str, k: Any) -> str | None:
    """A LIKE pattern (escape `\\`) every stored value with key `k` matches, on the lower-cased
    column; None for `exact` (compare the column itself) or a key that is not text."""
    if how == "exact" or not isinstance(k, str) or not k:
        return None
    chars = [c for c in k if not c.isspace()]
    if how == "phone":
        digits = "".join(chars).lstrip("0")  # +86 10 ... is stored without the trunk 0
        chars = list(digits)
    chars = chars[:LIKE_CHARS]
    if not chars:
        return None
    return "%" + "%".join(_LIKE_SPECIAL.sub(r"\\\1", c) for c in chars) + "%"
