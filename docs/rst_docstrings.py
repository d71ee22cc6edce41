"""A griffe extension: fastwait's reStructuredText-flavoured docstrings, read as Markdown.

The docstrings use a little reST (``:class:`Name``` roles, ``::`` before an indented block,
simple tables drawn with ``=====``) because it reads well in ``help()`` and an editor. The site
renders docstrings as Markdown, where those would show as stray colons and a run-on paragraph;
this extension rewrites each docstring once, when griffe loads it:

- a role becomes inline code (``:meth:`~fastwait.Client.wait``` -> ``wait``, the reST reading
  of ``~``: the last component only);
- ``text::`` and the indented block after it become ``text:`` and a fenced block (set smaller
  when wider than 80 columns, as the drawn exception tree is; highlighted when it is Python);
- a simple table becomes a Markdown table.

Loaded by mkdocs.yml (``extensions: [docs/rst_docstrings.py:RstDocstrings]``).
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

import griffe

__all__ = ["RstDocstrings", "markdown_of"]

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|exc|data|obj|const):`(~?)([^`]+)`")
LITERAL_BLOCK = re.compile(r"::\n\n((?:(?:[ \t]+\S[^\n]*)?\n)*(?:[ \t]+\S[^\n]*))(?=\n|$)")
"""``text::``, a blank line, then the indented lines of a literal block."""
WIDE = 80
"""Columns beyond which a literal block is set smaller (a drawn tree must not be cut off)."""
BORDER = re.compile(r"^(\s*)(=+)( +=+)+\s*$")


def _role(match: re.Match[str]) -> str:
    short, target = match[1], match[2]
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def _literal(match: re.Match[str]) -> str:
    block = textwrap.dedent(match[1])
    try:
        ast.parse(block)
    except SyntaxError:
        wide = max(len(line) for line in block.splitlines()) > WIDE
        fence = "```{.text .diagram}" if wide else "```text"
    else:
        fence = "```python"  # an example: highlighted as the pages' examples are
    return f":\n\n{fence}\n{block}\n```"


def _cells(line: str, starts: list[int]) -> list[str]:
    stops: list[int | None] = [*starts[1:], None]
    return [line[start:stop].strip() for start, stop in zip(starts, stops, strict=True)]


def _table(lines: list[str]) -> list[str]:
    """A reST simple table (its lines, borders included) as the lines of a Markdown table."""
    starts = [match.start() for match in re.finditer(r"=+", lines[0])]
    rows: list[list[str]] = []
    for line in lines[1:]:
        if BORDER.match(line):
            continue
        cells = _cells(line, starts)
        if rows and not cells[0]:  # a continuation line of the previous row
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    # With three borders, the first row is the header; a table of two has none, and Markdown
    # needs one: its first row serves.
    header, *body = rows
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in body),
    ]


def _tables(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        if not BORDER.match(lines[index]):
            out.append(lines[index])
            index += 1
            continue
        # The table runs to its last border: the one followed by a blank line or the end.
        end = index + 1
        while end < len(lines) and not (
            BORDER.match(lines[end]) and (end + 1 == len(lines) or not lines[end + 1].strip())
        ):
            end += 1
        end += 1
        if out and out[-1].strip():
            out.append("")  # Markdown needs a blank line before a table
        out += _table(lines[index:end])
        index = end
    return "\n".join(out)


def markdown_of(docstring: str) -> str:
    """The docstring with its reST constructs rewritten to Markdown."""
    text = ROLE.sub(_role, docstring)
    text = LITERAL_BLOCK.sub(_literal, text)
    return _tables(text)


class RstDocstrings(griffe.Extension):
    """Rewrites every docstring griffe loads (modules, classes, functions, attributes)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_of(obj.docstring.value)
