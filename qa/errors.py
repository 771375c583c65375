"""The library's exceptions: each says what was wrong and how to fix it.

The CLI turns them into one line on stderr and exit code 2; the app into ``gr.Error``.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error the library raises on purpose."""


class CorpusError(QAError):
    """No usable document: a missing path, or every document was rejected."""


class DocumentError(QAError):
    """One document cannot be used (empty, binary, not UTF-8, too large)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class QuestionError(QAError):
    """The question or the query settings are not usable (empty question, k below 1)."""


class ModelError(QAError):
    """The embedding model cannot be loaded."""


class IndexStoreError(QAError):
    """The saved index cannot be used and could not be rebuilt."""


class ParametersError(QAError):
    """A file of fitted parameters (rank weights, the gate, answerability) is missing or malformed."""


class ReaderError(ModelError):
    """The reader's shipped weights are missing or damaged, or it could not be exported to ONNX."""
