"""Documents: read files and convert PDF, Word and HTML, keep their text exactly as stored, and split it
into sentences and passages with their positions (layout, headings, pages).
Imports only ``qa.errors``, ``qa.settings`` and ``qa.storage``; everything else in ``qa`` builds on it.
"""
