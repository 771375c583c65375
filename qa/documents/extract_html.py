"""HTML → stored text of the main content only, by trafilatura (navigation, banners, footers, scripts
and boilerplate left out; headings h1–h6 kept with their level, lists and tables as paragraphs).

trafilatura was chosen over readability-style extraction for its measured precision on boilerplate
(cookie banners, menus, "related" boxes) and because it keeps the headings' levels in its XML output.
"""

from __future__ import annotations

from typing import Any

from .extracted import Extracted, ExtractError, TextBuilder

_BLOCKS = {"p", "item", "cell", "quote", "code", "head", "list", "table", "row"}
NO_TEXT = "holds no readable text (only markup, scripts or navigation); save the page's text instead"


def extract(data: bytes) -> Extracted:
    """The main content of an HTML page; ``ExtractError`` when it holds nothing but markup."""
    import trafilatura
    from lxml import etree

    xml = trafilatura.extract(
        data,
        output_format="xml",
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        favor_precision=True,
    )
    if not xml:
        raise ExtractError(NO_TEXT)
    root = etree.fromstring(xml.encode("utf-8"))
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
