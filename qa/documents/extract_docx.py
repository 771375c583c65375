"""Word (.docx) → stored text with headings, by python-docx: paragraphs and table cells in reading
order; the "Title" and "Heading 1…9" styles become headings. A .docx is a zip archive: one that would
unpack to far more than it weighs (a zip bomb) is refused before it is opened.
"""

from __future__ import annotations

import io
import re
import zipfile

from .extracted import Extracted, ExtractError, TextBuilder

MAX_UNPACKED = 200_000_000  # bytes a .docx may unpack to
MAX_RATIO = 100  # ...and at most this many times its own size
_HEADING = re.compile(r"^(?:heading\s*(\d)|title)$", re.IGNORECASE)


def extract(data: bytes) -> Extracted:
    """The text of a Word document; ``ExtractError`` when it is damaged, encrypted or a zip bomb."""
    _check_archive(data)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds for a damaged file
        raise ExtractError(f"is not a readable Word document ({type(exc).__name__}); save it again as .docx") from None
    builder = TextBuilder()
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            builder.paragraph(block.text, heading=_level(block))
        elif isinstance(block, Table):
            for row in block.rows:
                seen: set[int] = set()
                for cell in row.cells:  # a merged cell is listed once per column it spans: keep one
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        builder.paragraph(cell.text)
    return builder.build(paged=False)


def _level(paragraph: object) -> int:
    style = getattr(getattr(paragraph, "style", None), "name", "") or ""
    match = _HEADING.match(style.strip())
    if not match:
        return 0
    return int(match.group(1)) if match.group(1) else 1


def _check_archive(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ExtractError("is not a readable Word document (not a .docx archive); save it again as .docx") from None
    with archive:
        unpacked = sum(info.file_size for info in archive.infolist())
        if any(info.flag_bits & 0x1 for info in archive.infolist()):
            raise ExtractError("is an encrypted Word document; save a copy without a password and add that")
        if unpacked > MAX_UNPACKED or unpacked > MAX_RATIO * max(len(data), 1):
            raise ExtractError(
                f"would unpack to {unpacked / 1e6:.0f} MB from {len(data) / 1e6:.1f} MB (a zip bomb?); "
                "it was not opened"
            )
        if "word/document.xml" not in archive.namelist():
            raise ExtractError("is not a Word document (no word/document.xml inside); save it again as .docx")
