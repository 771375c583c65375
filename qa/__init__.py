"""Question answering grounded in an article: verbatim passages with their exact position.

The data path, one folder per step, imports pointing only down it: ``documents`` (read, convert, split
with offsets) → ``models`` (embedders) → ``retrieval`` (FAISS, BM25, the index and its folder,
candidates) → ``answering`` (rank, answerability, conversation, results, ``engine.Engine``) →
``evaluate``/``render`` → ``cli`` and ``app`` (for ``app.py``). ``errors``, ``settings`` and ``storage``
(atomic writes, bounded caches) sit under everything; the environment is read in ``settings`` only.
"""

from __future__ import annotations

__version__ = "0.1.0"
