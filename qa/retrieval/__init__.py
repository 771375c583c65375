"""Retrieval: FAISS (dense), BM25 (lexical), the index in memory, its folder on disk, and a question's
candidate passages with their features.
Imports ``qa.documents`` and ``qa.models`` (and ``errors``/``settings``/``storage``); nothing above.
"""
