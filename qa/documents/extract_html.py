"""HTML → stored text of the main content only, by trafilatura (navigation, banners, footers, scripts
and boilerplate left out; headings h1–h6 kept with their level, lists and tables as paragraphs).

trafilatura was chosen over readability-style extraction for its measured precision on boilerplate
(cookie banners, menus, "related" boxes) and because it keeps the headings' levels in its XML output.
"""

from __future__ import annotations

import re
from typing import Any

from .extracted import Extracted, ExtractError, TextBuilder

_BLOCKS = {"p", "item", "cell", "quote", "code", "head", "list", "table", "row"}
NO_TEXT = "holds no readable text (only markup, scripts or navigation); save the page's text instead"
MAX_DEPTH = 2000  # the HTML parser follows markup this deep (libxml2 stops at 2,048 even for huge trees)
# Markup that only groups or styles text: taken out of a page nested deeper than the parser follows, so
# that what it wraps can be read.
_WRAPPERS = re.compile(
    rb"</?(?:div|span|section|font|center|a|b|i|u|em|strong|small|big|sup|sub|label|form|fieldset)\b[^>]*>", re.I
)


def extract(data: bytes) -> Extracted:
    """The main content of an HTML page; ``ExtractError`` when it holds nothing but markup.

    Pages of any size are parsed (lxml's ``huge_tree``: text nodes over 10 MB are kept); a page nested
    deeper than ``MAX_DEPTH`` is read with its grouping markup (``div``, ``span``, …) taken out.
    """
    import trafilatura

    tree = _parse(data)
    if _depth(tree) >= MAX_DEPTH:
        tree = _parse(_WRAPPERS.sub(b" ", data))
        if _depth(tree) >= MAX_DEPTH:
            raise ExtractError(
                f"nests its markup more than {MAX_DEPTH:,} levels deep, deeper than this reader follows; "
                "save the page's text instead"
            )
    document = trafilatura.bare_extraction(
        tree,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        favor_precision=True,
    )
    root = getattr(document, "body", None)
    if root is None or not "".join(root.itertext()).strip():
        raise ExtractError(NO_TEXT)
    builder = TextBuilder()
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "head":
            level = (element.get("rend") or "h2").lstrip("h")
            builder.paragraph(_own_text(element), heading=int(level) if level.isdigit() else 2)
        elif tag in _BLOCKS:
            builder.paragraph(_own_text(element))
    try:
        return builder.build(paged=False)
    except ExtractError:
        raise ExtractError(NO_TEXT) from None


def _parse(data: bytes) -> Any:
    from lxml import etree, html

    parser = html.HTMLParser(huge_tree=True, remove_comments=True, remove_pis=True)
    try:
        return html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError):
        raise ExtractError(NO_TEXT) from None


def _depth(tree: Any) -> int:
    """How deep the tree's elements nest (counted without recursion)."""
    from lxml import etree

    depth = deepest = 0
    for event, _ in etree.iterwalk(tree, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest


def _own_text(element: Any) -> str:
    """The text of a block without the blocks nested in it (they are paragraphs of their own); a line
    break becomes a space, so the words on either side are never glued together."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            parts.append(" ")
        elif child.tag not in _BLOCKS:
            parts.append(_own_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
