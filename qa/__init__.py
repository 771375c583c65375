"""Question answering grounded in an article: verbatim passages with their exact position.

The data path, one module per step: ``corpus`` (read) → ``structure``/``sentences``/``passages``
(split with offsets) → ``embed``/``dense``/``lexical`` (index) → ``store`` (persist) → ``search``
(fuse, highlight, decide) → ``engine`` (the entry point) → ``cli`` and ``app.py``.
"""

from __future__ import annotations

__version__ = "0.1.0"
