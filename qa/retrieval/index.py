"""The search index in memory: passages, their vectors in FAISS, BM25, and sentence vectors and terms.

``embed_documents`` splits documents and embeds their passages and sentences (one forward pass per
distinct text); ``SearchIndex.build`` puts embedded documents together into what search reads. Saving,
loading and reusing an index is ``store``'s job; search depends only on ``SearchIndex``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..documents.corpus import Document
from ..documents.passages import Passage, SplitConfig, split_document
from ..models.embed import Embedder, Progress
from .dense import EXACT_LIMIT, DenseIndex
from .lexical import LexicalConfig, LexicalIndex


@dataclass(frozen=True)
class IndexConfig:
    """Build-time settings, saved in the manifest; any change rebuilds the index."""

    split: SplitConfig = dataclasses.field(default_factory=SplitConfig)
    exact_limit: int = EXACT_LIMIT
    lexical: LexicalConfig = dataclasses.field(default_factory=LexicalConfig)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexConfig:
        return cls(
            split=SplitConfig(**data["split"]),
            exact_limit=int(data["exact_limit"]),
            lexical=LexicalConfig.from_json(data["lexical"]),
        )


@dataclass(frozen=True)
class EmbeddedDocument:
    """One document's passages with the vectors of each passage and of each passage's sentences."""

    passages: tuple[Passage, ...]
    passage_vectors: np.ndarray
    sentence_vectors: np.ndarray

    def renamed(self, name: str) -> EmbeddedDocument:
        """The same content under another document name (a renamed or copied file)."""
        return dataclasses.replace(self, passages=tuple(dataclasses.replace(p, doc=name) for p in self.passages))


def embed_documents(
    documents: Sequence[Document], embedder: Embedder, split: SplitConfig, progress: Progress | None = None
) -> dict[str, EmbeddedDocument]:
    """Split and embed documents in one batch: document name -> its embedded passages."""
    parts = {doc.name: split_document(doc, split) for doc in documents}
    texts = [doc.text[p.start : p.end] for doc in documents for p in parts[doc.name]]
    n_passage_texts = len(texts)
    texts += [doc.text[s:e] for doc in documents for p in parts[doc.name] for s, e in p.sentences]
    # A one-sentence passage reads the same as its sentence: embed each distinct text once.
    unique = list(dict.fromkeys(texts))
    row_of = {text: row for row, text in enumerate(unique)}
    encoded = embedder.encode(unique, progress=progress) if unique else np.empty((0, embedder.dimension), np.float32)
    vectors = encoded[[row_of[t] for t in texts]] if texts else encoded
    out: dict[str, EmbeddedDocument] = {}
    p_row, s_row = 0, n_passage_texts
    for doc in documents:
        passages = parts[doc.name]
        n_sentences = sum(len(p.sentences) for p in passages)
        out[doc.name] = EmbeddedDocument(
            tuple(passages), vectors[p_row : p_row + len(passages)], vectors[s_row : s_row + n_sentences]
        )
        p_row += len(passages)
        s_row += n_sentences
    return out


@dataclass(frozen=True)
class SearchIndex:
    """Everything search reads. Passage ``i`` owns sentence rows ``sentence_offsets[i]:sentence_offsets[i+1]``."""

    passages: tuple[Passage, ...]
    dense: DenseIndex
    lexical: LexicalIndex
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray
    sentence_terms: Any  # CSR, sentences × BM25 vocabulary, 1 where the sentence holds the term
    term_sentences: Any  # the same as CSC: for each term, the sentence rows that hold it

    @classmethod
    def build(
        cls, documents: Sequence[EmbeddedDocument], texts: Mapping[str, str], config: IndexConfig, dimension: int
    ) -> SearchIndex:
        """Put embedded documents together, in order; ``texts`` maps document names to their text."""
        passages = tuple(p for d in documents for p in d.passages)
        passage_vectors = _stack([d.passage_vectors for d in documents], dimension)
        sentence_vectors = _stack([d.sentence_vectors for d in documents], dimension)
        tokenizer = config.lexical.make_tokenizer()
        lexical = LexicalIndex.build(
            [tokenizer.passage_terms(texts[p.doc], p.start, p.end, p.section) for p in passages], config.lexical
        )
        sentence_terms = lexical.presence(
            [tokenizer.terms(texts[p.doc][s:e]) for p in passages for s, e in p.sentences]
        )
        return cls.assemble(
            passages, DenseIndex.build(passage_vectors, config.exact_limit), lexical, sentence_vectors, sentence_terms
        )

    @classmethod
    def assemble(
        cls,
        passages: Sequence[Passage],
        dense: DenseIndex,
        lexical: LexicalIndex,
        sentence_vectors: np.ndarray,
        sentence_terms: Any,
    ) -> SearchIndex:
        """The index from its parts (built or loaded); ``ValueError`` when they do not fit together."""
        offsets = np.zeros(len(passages) + 1, dtype=np.int64)
        np.cumsum([len(p.sentences) for p in passages], out=offsets[1:])
        n_sentences = int(offsets[-1])
        if dense.size != len(passages) or lexical.size != len(passages):
            raise ValueError("the dense and lexical indexes disagree with the passages on their number")
        if sentence_vectors.shape != (n_sentences, dense.dimension):
            raise ValueError("the sentence vectors have the wrong shape")
        if sentence_terms.shape != (n_sentences, lexical.vocabulary_size):
            raise ValueError("the sentence terms do not match the passages")
        vectors = np.ascontiguousarray(sentence_vectors, dtype=np.float32)
        return cls(tuple(passages), dense, lexical, vectors, offsets, sentence_terms, sentence_terms.tocsc())

    def holding(self, term_ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """A (rows × terms) 0/1 matrix: which of the sentence ``rows`` hold which of the ``term_ids``.

        Read from the term-wise copy a handful of columns at a time: for the few terms of a question
        this is about ten times faster than slicing the sparse matrix (scipy's per-slice overhead).
        """
        out = np.zeros((len(rows), len(term_ids)), dtype=np.float32)
        starts, indices = self.term_sentences.indptr, self.term_sentences.indices
        for j, term in enumerate(term_ids):
            out[:, j] = np.isin(rows, indices[starts[term] : starts[term + 1]])
        return out

    def embedded(self, start: int, end: int) -> EmbeddedDocument:
        """Passages ``start:end`` (one document's) with their vectors, to reuse them in another index."""
        s_start, s_end = int(self.sentence_offsets[start]), int(self.sentence_offsets[end])
        passage_vectors = self.dense.vectors(start, end)
        return EmbeddedDocument(self.passages[start:end], passage_vectors, self.sentence_vectors[s_start:s_end])


def _stack(blocks: Sequence[np.ndarray], dimension: int) -> np.ndarray:
    return np.concatenate(blocks) if blocks else np.empty((0, dimension), np.float32)
