"""A report as data, and its two renderings: Markdown (report.md) and HTML (report.html).

`report.py` builds one `Document` (a title, then sections, each a heading and
its blocks: paragraphs, tables, bulleted lists, figures) and writes it with
`to_markdown` and `to_html`. The two files are printed from the same
structure, so a section, a table row or a figure cannot be in one and missing
from the other. Neither renderer knows what a course result is.
"""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """A table: its headings and its rows, each a list of cells (text), one per heading."""
    headings: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Items:
    """A bulleted list, one line per item."""
    lines: list[str]


@dataclass(frozen=True)
class Figure:
    """An image, `src` relative to the report's folder, shown with its caption."""
    src: str
    caption: str


Block = str | Table | Items | Figure  # a str is a paragraph


@dataclass(frozen=True)
class Section:
    """A part of a document: a heading (None for the text right under the title) and its blocks."""
    heading: str | None
    blocks: list[Block]


@dataclass(frozen=True)
class Document:
    """A whole document: `title` names the HTML page, `heading` tops both renderings."""
    title: str
    heading: str
    sections: list[Section]


def to_markdown(document: Document) -> str:
    """The document as Markdown: `#` for its heading, `##` for each section's, blocks apart."""
    parts = [f"# {document.heading}"]
    for section in document.sections:
        parts += [f"## {section.heading}"] if section.heading else []
        parts += [_markdown(block) for block in section.blocks]
    return "\n\n".join(parts) + "\n"


def _markdown_row(cells: list[str]) -> str:
    # A "|" inside a cell would end it: escaped, it reads as itself.
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _markdown(block: Block) -> str:
    match block:
        case Table(headings, rows):
            return "\n".join([_markdown_row(headings), "|" + " --- |" * len(headings), *map(_markdown_row, rows)])
        case Items(lines):
            return "\n".join(f"- {text}" for text in lines)
        case Figure(src, caption):
            return f"![{caption}]({src})\n\n*{caption}*"
        case str():
            return block
    raise TypeError(f"not a block of a document: {block!r}")


_STYLE = ("<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:3px 6px;font-size:90%}figure{margin:1em 0}"
          "img{max-width:100%}</style>")


def to_html(document: Document) -> str:
    """The document as one HTML page: `<h1>` for its heading, `<h2>` for each section's."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(document.title)}</title>", _STYLE,
             f"<h1>{html.escape(document.heading)}</h1>"]
    for section in document.sections:
        parts += [f"<h2>{html.escape(section.heading)}</h2>"] if section.heading else []
        parts += [_html(block) for block in section.blocks]
    return "\n".join(parts) + "\n"


def _html(block: Block) -> str:
    escape = html.escape
    match block:
        case Table(headings, rows):
            return ("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headings) + "</tr>\n"
                    + "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>\n" for row in rows)
                    + "</table>")
        case Items(lines):
            return "<ul>" + "".join(f"<li>{escape(text)}</li>" for text in lines) + "</ul>"
        case Figure(src, caption):
            return (f"<figure><img src='{escape(src)}' alt='{escape(caption)}'>"
                    f"<figcaption>{escape(caption)}</figcaption></figure>")
        case str():
            return f"<p>{escape(block)}</p>"
    raise TypeError(f"not a block of a document: {block!r}")
