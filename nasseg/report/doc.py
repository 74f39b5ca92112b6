"""A small document model rendered twice: a self-contained HTML page (images inlined as
base64, no external CSS or script) and a Markdown twin (images linked by relative path).

Blocks: :class:`Heading`, :class:`Text` (a paragraph with ``code`` and **bold** spans),
:class:`Table`, :class:`Figure`, :class:`Code` (collapsible in HTML) and :class:`Missing`
(an input the report could not find, with the command that writes it).
"""
from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

from ..markdown import markdown_table


@dataclass
class Heading:
    text: str
    level: int = 2
    anchor: str = ""


@dataclass
class Text:
    text: str


@dataclass
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence]
    caption: str = ""
    bold_first: bool = False  # the first column as row headers


@dataclass
class Figure:
    path: Path
    caption: str
    label: str = ""  # "Fig. 2", ...


@dataclass
class Code:
    text: str
    summary: str = ""


@dataclass
class Missing:
    what: str
    path: str
    command: str


Block = Union[Heading, Text, Table, Figure, Code, Missing]


@dataclass
class Document:
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks: Block) -> "Document":
        self.blocks.extend(blocks)
        return self

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]

    @property
    def missing(self) -> list[Missing]:
        return [b for b in self.blocks if isinstance(b, Missing)]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_markdown_table(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first pipe table in ``text`` (the stages' own table.md files)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        return [], []

    def cells(ln):
        inner = ln[1:-1] if ln.endswith("|") and not ln.endswith("\\|") else ln[1:]
        return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]

    body = [cells(ln) for ln in lines[2:]]
    return cells(lines[0]), body


# ----------------------------------------------------------------------------- markdown

def to_markdown(doc: Document, base: Path) -> str:
    """Markdown with images linked relative to ``base`` (the folder the .md file is in)."""
    out = [f"# {doc.title}", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Text):
            out += [b.text, ""]
        elif isinstance(b, Table):
            if b.caption:
                out += [f"**{b.caption}**", ""]
            out += markdown_table(b.header, b.rows, empty="  ").splitlines()
            out.append("")
        elif isinstance(b, Figure):
            rel = os.path.relpath(b.path, base)
            label = f"{b.label}: " if b.label else ""
            out += [f"![{label}{b.caption}]({rel})", "", f"*{label}{b.caption}*", ""]
        elif isinstance(b, Code):
            if b.summary:
                out += [f"<details><summary>{html.escape(b.summary)}</summary>", ""]
            out += ["```", b.text.rstrip(), "```", ""]
            if b.summary:
                out += ["</details>", ""]
        elif isinstance(b, Missing):
            out += [f"> **missing:** {b.what} — `{b.path}` not found; run `{b.command}`.", ""]
    return "\n".join(out).rstrip() + "\n"


# ----------------------------------------------------------------------------- html

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #ddd;padding-bottom:.3em}h2{margin-top:2em;border-bottom:1px solid #eee}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .6em}
th{background:#f3f5f8}tr:nth-child(even) td{background:#fafafa}caption{text-align:left;font-weight:600;padding:.3em 0}
figure{margin:1em 0 2em}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#444}
code{background:#f3f3f3;padding:0 .25em;border-radius:3px}pre{background:#f6f8fa;padding:.8em;overflow:auto;
font-size:.8em}.missing{background:#fff4e5;border-left:4px solid #f0a030;padding:.5em .8em}
nav ul{columns:2;font-size:.9em}
"""


def _inline(text: str) -> str:
    """Escape, then ``code`` and **bold** spans."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for p in parts:
        if p.startswith("`") and p.endswith("`") and len(p) >= 2:
            out.append(f"<code>{html.escape(p[1:-1])}</code>")
        else:
            e = html.escape(p)
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", e))
    return "".join(out)


def _data_uri(path: Path) -> str:
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}.get(
        path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def to_html(doc: Document) -> str:
    """One self-contained page: figures are inlined, so the file can be mailed or archived alone."""
    body, toc = [], []
    for b in doc.blocks:
        if isinstance(b, Heading):
            anchor = b.anchor or slug(b.text)
            if b.level == 2:
                toc.append(f'<li><a href="#{anchor}">{html.escape(b.text)}</a></li>')
            body.append(f'<h{b.level} id="{anchor}">{_inline(b.text)}</h{b.level}>')
        elif isinstance(b, Text):
            body.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            rows = []
            for r in b.rows:
                tds = [(f"<th>{_inline(str(c))}</th>" if (i == 0 and b.bold_first) else f"<td>{_inline(str(c))}</td>")
                       for i, c in enumerate(r)]
                rows.append("<tr>" + "".join(tds) + "</tr>")
            cap = f"<caption>{_inline(b.caption)}</caption>" if b.caption else ""
            head = "<tr>" + "".join(f"<th>{_inline(str(h))}</th>" for h in b.header) + "</tr>"
            body.append(f"<table>{cap}<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>")
        elif isinstance(b, Figure):
            label = f"<b>{html.escape(b.label)}:</b> " if b.label else ""
            body.append(f'<figure id="{slug(b.label or b.caption)}"><img alt="{html.escape(b.label or b.caption)}" '
                        f'src="{_data_uri(Path(b.path))}"><figcaption>{label}{_inline(b.caption)}</figcaption></figure>')
        elif isinstance(b, Code):
            pre = f"<pre>{html.escape(b.text)}</pre>"
            body.append(f"<details><summary>{html.escape(b.summary)}</summary>{pre}</details>" if b.summary else pre)
        elif isinstance(b, Missing):
            body.append(f'<p class="missing"><b>missing:</b> {html.escape(b.what)} — <code>{html.escape(b.path)}'
                        f"</code> not found; run <code>{html.escape(b.command)}</code>.</p>")
    nav = f"<nav><ul>{''.join(toc)}</ul></nav>" if toc else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(doc.title)}"
            f"</title><style>{_CSS}</style></head><body><h1>{html.escape(doc.title)}</h1>{nav}"
            + "\n".join(body) + "</body></html>\n")
