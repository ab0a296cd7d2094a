"""A small, safe Markdown subset for knowledge base articles: text in, escaped HTML out.

Every character of the source is HTML-escaped first; only these constructs then become markup:

- paragraphs (blank lines between them; a single line break stays a line break),
- headings `# `, `## `, `### ` (drawn one level below the page's own heading),
- bulleted (`- ` or `* `) and numbered (`1. ` or `1) `) lists,
- fenced code blocks (three backticks on a line of their own),
- inline `**bold**`, `*italic*`, `` `code` `` and `[text](https://...)` links (http, https and
  mailto only; they open in a new tab and carry `rel="nofollow noopener noreferrer"`).

Raw HTML in an article is shown as written, never interpreted: `<script>` stays text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markupsafe import Markup, escape

_HEADING = re.compile(r"^(#{1,3})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*]\s+(.*)$")
_NUMBER = re.compile(r"^\s{0,3}\d{1,4}[.)]\s+(.*)$")
_FENCE = re.compile(r"^\s{0,3}```")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s()<>\"']+)\)")
#: a placeholder for a code span while the other inline rules run (never in escaped text)
_HOLD = "\x00{}\x00"
_HELD = re.compile(r"\x00(\d+)\x00")


def inline(text: str) -> str:
    """One line of text: escaped, with code spans, bold, italic and links made markup."""
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(f"<code>{match.group(1)}</code>")
        return _HOLD.format(len(held) - 1)

    out = str(escape(text.replace("\x00", "")))
    out = _CODE.sub(hold, out)
    out = _LINK.sub(r'<a href="\2" rel="nofollow noopener noreferrer" target="_blank">\1</a>',
                    out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    return _HELD.sub(lambda m: held[int(m.group(1))], out)


def _blocks(lines: list[str]) -> Iterator[str]:
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if _FENCE.match(line):
            end = i + 1
            while end < len(lines) and not _FENCE.match(lines[end]):
                end += 1
            code = "\n".join(lines[i + 1:end])
            yield f"<pre><code>{escape(code.replace(chr(0), ''))}</code></pre>"
            i = end + 1
            continue
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1)) + 1
            yield f"<h{level}>{inline(heading.group(2))}</h{level}>"
            i += 1
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBER, "ol")):
            if pattern.match(line):
                items = []
                while i < len(lines) and (found := pattern.match(lines[i])):
                    items.append(f"<li>{inline(found.group(1))}</li>")
                    i += 1
                yield f"<{tag}>{''.join(items)}</{tag}>"
                break
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
                para.append(inline(lines[i].strip()))
                i += 1
            yield f"<p>{'<br>'.join(para)}</p>"


def _starts_block(line: str) -> bool:
    return bool(_HEADING.match(line) or _BULLET.match(line) or _NUMBER.match(line)
                or _FENCE.match(line))


def render(text: str | None) -> Markup:
    """The article text as safe HTML (empty text: empty markup)."""
    if not text:
        return Markup("")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Markup("\n".join(_blocks(lines)))  # built from escaped text only


_MARKERS = re.compile(r"(^|\n)\s{0,3}(#{1,3}|[-*]|\d{1,4}[.)])\s+|`{1,3}|\*\*|\*")
_LINK_TEXT = re.compile(r"\[([^\]\n]+)\]\([^)\s]+\)")


def plain(text: str | None, limit: int = 240) -> str:
    """The article text without its Markdown marks, on one line, cut at `limit` characters
    (for search results and emails)."""
    if not text:
        return ""
    out = _LINK_TEXT.sub(r"\1", text)
    out = _MARKERS.sub(" ", out)
    out = " ".join(out.split())
    return out if len(out) <= limit else out[:limit - 1].rstrip() + "…"
