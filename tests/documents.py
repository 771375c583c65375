"""Real files for the format tests, made on the spot: the makers the benchmarks share
(``benchmarks/samples.py``: HTML pages, PDFs printed by Chromium, Word files), and the broken ones only
the tests need (scanned, encrypted, a zip bomb) — nothing binary is checked in."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from benchmarks.samples import CHROMIUM, page_html, print_pdf, word_file

__all__ = [
    "CHROMIUM",
    "encrypted_pdf",
    "page_html",
    "print_pdf",
    "requires_chromium",
    "scanned_pdf",
    "word_file",
    "zip_bomb",
]


def requires_chromium() -> pytest.MarkDecorator:
    """Skip without Chromium, except under CI=true where it must be installed."""
    missing = not Path(CHROMIUM).exists() and os.environ.get("CI", "").lower() != "true"
    return pytest.mark.skipif(missing, reason=f"Chromium not found at {CHROMIUM}; apt-get install chromium")


def scanned_pdf(path: Path) -> Path:
    """A PDF whose only content is a picture of text: no text layer."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (900, 300), "white")
    ImageDraw.Draw(picture).text((20, 20), "This text is only a picture of text.", fill="black")
    picture.save(path, "PDF")
    return path


def encrypted_pdf(source: Path, path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(source).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def zip_bomb(path: Path, unpacked_mb: int = 40) -> Path:
    """A .docx-shaped archive whose document.xml unpacks to ``unpacked_mb`` MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"0" * (unpacked_mb * 1_000_000))
    path.write_bytes(buffer.getvalue())
    return path
