"""A small Go-template reader for notification templates: what each defines and uses, and unbalanced actions
with their line (Grafana would refuse them, or render them wrong).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ParsedTemplate:
    defines: list[tuple[str, int]]  # (name, line) of each {{ define }} and {{ block }}
    references: list[tuple[str, int]]  # (name, line) of each {{ template }}
    problems: list[tuple[int, str]]  # (line, message)


_BLOCK_OPENERS = ("if", "range", "with", "define", "block")
_QUOTED_NAME = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"|^\s*`([^`]*)`')


def parse_template(text: str) -> ParsedTemplate:
    """Check Go template text for what breaks most often: unclosed actions, and define/if/range/with/block and
    else/end that do not pair up. Not a full parser: pipelines and functions are left to Grafana."""
    defines: list[tuple[str, int]] = []
    references: list[tuple[str, int]] = []
    problems: list[tuple[int, str]] = []
    stack: list[tuple[str, int]] = []  # open blocks: ('define "x"', line), ('if', line), ...
    pos = 0
    while (start := text.find("{{", pos)) >= 0:
        line = text.count("\n", 0, start) + 1
        end = _action_end(text, start + 2)
        if end < 0:
            problems.append((line, "an action opened with {{ is never closed with }}"))
            break
        body = text[start + 2:end]
        pos = end + 2
        body = body[1:] if body.startswith("-") else body
        body = body[:-1] if body.endswith("-") else body
        body = body.strip()
        if body.startswith("/*"):
            continue
        if not body:
            problems.append((line, "an empty action {{ }}"))
            continue
        keyword, _, rest = body.replace("\t", " ").replace("\n", " ").partition(" ")
        label = keyword
        if keyword in ("define", "block", "template"):
            match = _QUOTED_NAME.match(rest)
            if match is None:
                problems.append((line, f"{{{{ {keyword} }}}} needs a quoted template name"))
                name = ""
            else:
                name = match.group(1) if match.group(1) is not None else match.group(2)
            if keyword == "template":
                references.append((name, line))
                continue
            label = f'{keyword} "{name}"'
            if keyword == "define" and stack:
                problems.append((line, f"{{{{ {label} }}}} inside {{{{ {stack[-1][0]} }}}} (line "
                                       f"{stack[-1][1]}); a define must stand at the top level"))
            defines.append((name, line))
        if keyword in _BLOCK_OPENERS:
            stack.append((label, line))
        elif keyword == "else":
            if not stack or stack[-1][0] not in ("if", "range", "with"):  # define/block labels hold their names
                problems.append((line, "{{ else }} outside an if, range or with"))
        elif keyword == "end":
            if not stack:
                problems.append((line, "{{ end }} without an if, range, with, define or block to close"))
            else:
                stack.pop()
    for label, line in stack:
        problems.append((line, f"{{{{ {label} }}}} is never closed with {{{{ end }}}}"))
    return ParsedTemplate(defines, references, problems)


def _action_end(text: str, pos: int) -> int:
    """Where the action from ``pos`` (just after its {{) closes, skipping quoted text and comments; -1 if never."""
    if text.startswith("/*", pos) or text.startswith("- /*", pos):
        comment_end = text.find("*/", pos)
        return -1 if comment_end < 0 else text.find("}}", comment_end)
    while pos < len(text):
        ch = text[pos]
        if text.startswith("}}", pos):
            return pos
        if text.startswith("{{", pos):
            return -1  # a new action before this one closed
        if ch in "\"'`":
            close = _string_end(text, pos)
            if close < 0:
                return -1
            pos = close
        pos += 1
    return -1


def _string_end(text: str, pos: int) -> int:
    quote = text[pos]
    pos += 1
    while pos < len(text):
        if text[pos] == "\\" and quote != "`":
            pos += 2
            continue
        if text[pos] == quote:
            return pos
        if text[pos] == "\n" and quote != "`":
            return -1
        pos += 1
    return -1
