"""Question answering grounded in an article: verbatim passages with their exact position.

The data path, one module per step: ``corpus`` (read) → ``structure``/``sentences``/``passages``
(split with offsets) → ``embed``/``embedders`` (vectors) → ``dense``/``lexical``/``index`` (the index
in memory) → ``store`` (on disk) → ``search`` (candidates and features) → ``rank`` (score, highlight,
answered) → ``engine`` (the entry point) → ``evaluate``, ``cli``, and ``web``/``chat``/``server`` for
``app.py``. Settings from the environment are read in ``settings`` only.
"""

from __future__ import annotations

__version__ = "0.1.0"
