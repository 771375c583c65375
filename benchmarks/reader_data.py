"""The reader's data: bench-format questions seen through our own passages, sentences and retrieval.

Training (``benchmarks/train_reader.py``) and validation (``benchmarks/eval_reader.py``) both see an
article as the engine does: its passages and their sentences (``qa.passages``, the units the app
highlights), the engine's candidates for each question (``Engine.ask_many``) and the bi-encoder's
sentence vectors (the baseline). A sentence is named by ``Unit`` (passage row, sentence index).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answering.engine import Engine
from qa.models.reader import reader_text

TRAIN = Path(__file__).resolve().parent.parent.parent / "shared" / "train" / "squad2-extra"


@dataclass(frozen=True)
class Row:
    """One bench question: its gold spans (empty: unanswerable) and the paragraph it was written on."""

    id: str
    q: str
    doc: str
    answers: tuple[tuple[int, int], ...]
    paragraph: tuple[int, int] | None


@dataclass(frozen=True, order=True)
class Unit:
    """A sentence: sentence ``j`` of passage row ``row`` of the engine's index."""

    row: int
    j: int


@dataclass(frozen=True)
class Seen:
    """A question as the engine sees it: its paragraph's sentences, its candidates' sentences (best
    passage first) and the highlight of each of the first candidates, and the cosines of all of them."""

    row: Row
    paragraph: tuple[Unit, ...]
    candidates: tuple[tuple[Unit, ...], ...]  # the sentences of each of the top hits, in rank order
    highlights: tuple[Unit, ...]  # the engine's highlight of each top hit, in rank order
    cosine: dict[Unit, float]


def read_rows(path: Path, doc: str) -> list[Row]:
    """The questions of one bench-format file, on document ``doc``."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        paragraph = data.get("paragraph")
        rows.append(
            Row(
                id=str(data["id"]),
                q=str(data["q"]),
                doc=doc,
                answers=tuple((int(a["start"]), int(a["end"])) for a in data["answers"]),
                paragraph=(int(paragraph["start"]), int(paragraph["end"])) if paragraph else None,
            )
        )
    return rows


def folder_rows(folder: Path) -> list[Row]:
    """Every question of a folder of ``<Title>.txt`` + ``<Title>.questions.jsonl``, title order."""
    out: list[Row] = []
    for path in sorted(folder.glob("*.questions.jsonl")):
        out.extend(read_rows(path, path.name.removesuffix(".questions.jsonl") + ".txt"))
    return out


class View:
    """One engine's passages as sentence units, with the helpers training and validation share."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.passages = engine.passages
        self.rows = {p: i for i, p in enumerate(self.passages)}
        self.by_doc: dict[str, list[int]] = {}
        for i, p in enumerate(self.passages):
            self.by_doc.setdefault(p.doc, []).append(i)

    def span(self, unit: Unit) -> tuple[int, int]:
        return self.passages[unit.row].sentences[unit.j]

    def units_of(self, row: int) -> tuple[Unit, ...]:
        return tuple(Unit(row, j) for j in range(len(self.passages[row].sentences)))

    def paragraph_units(self, doc: str, paragraph: tuple[int, int]) -> tuple[Unit, ...]:
        """The sentences of the passages inside ``paragraph`` (character span) of ``doc``."""
        start, end = paragraph
        return tuple(
            u
            for i in self.by_doc.get(doc, [])
            if self.passages[i].start >= start and self.passages[i].end <= end
            for u in self.units_of(i)
        )

    def holds(self, unit: Unit, answers: Sequence[tuple[int, int]]) -> bool:
        """Whether the sentence contains one whole gold span."""
        s, e = self.span(unit)
        return any(s <= a and b <= e for a, b in answers)

    def text(self, unit: Unit, context: str) -> str:
        passage = self.passages[unit.row]
        return reader_text(self.engine.texts[passage.doc], passage.sentences, unit.j, context, passage.section)

    def sentence(self, unit: Unit) -> str:
        s, e = self.span(unit)
        return self.engine.texts[self.passages[unit.row].doc][s:e]

    def see(self, rows: Sequence[Row], hits: int) -> list[Seen]:
        """Each question with its paragraph, its top ``hits`` candidates (the engine's ranking) and cosines."""
        engine = self.engine
        answers = engine.ask_many([r.q for r in rows], k=hits)
        vectors = engine.embedder.encode([engine.embedder.truncate(r.q)[0] for r in rows])
        index = engine.index
        out = []
        for row, answer, vector in zip(rows, answers, vectors, strict=True):
            paragraph = self.paragraph_units(row.doc, row.paragraph) if row.paragraph else ()
            candidates, highlights = [], []
            for hit in answer.hits:
                passage_row = self.rows[hit.passage]
                candidates.append(self.units_of(passage_row))
                j = hit.passage.sentences.index((hit.highlight.start, hit.highlight.end))
                highlights.append(Unit(passage_row, j))
            units = {*paragraph, *(u for c in candidates for u in c)}
            cosine = {
                u: float(index.sentence_vectors[int(index.sentence_offsets[u.row]) + u.j] @ vector) for u in units
            }
            out.append(Seen(row, paragraph, tuple(candidates), tuple(highlights), cosine))
        return out


@dataclass(frozen=True)
class Pair:
    """One training pair: question ``qid`` against sentence ``unit``; ``kind`` says where the sentence
    came from (positive, paragraph, retrieval, unanswerable-paragraph, unanswerable-retrieval)."""

    qid: str
    q: str
    unit: Unit
    label: int
    kind: str

    def to_json(self) -> dict[str, object]:
        return {
            "qid": self.qid,
            "q": self.q,
            "row": self.unit.row,
            "j": self.unit.j,
            "label": self.label,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Pair:
        return cls(
            str(data["qid"]),
            str(data["q"]),
            Unit(int(str(data["row"])), int(str(data["j"]))),
            int(str(data["label"])),
            str(data["kind"]),
        )


def training_pairs(
    view: View,
    seen: Sequence[Seen],
    seed: int,
    per_paragraph: int = 2,
    per_retrieval: int = 1,
    unanswerable_paragraph: int = 3,
    unanswerable_retrieval: int = 1,
) -> list[Pair]:
    """Labelled pairs, questions in file order.

    * answerable: the sentence holding a gold span (positive), up to ``per_paragraph`` other sentences
      of its paragraph (random) and the highlights of the top candidates outside the paragraph, up to
      ``per_retrieval`` (the hardest negatives our own retrieval makes); questions whose answer crosses
      a sentence boundary are left out;
    * unanswerable: the ``unanswerable_paragraph`` sentences of its own paragraph closest to the
      question (by the bi-encoder) and ``unanswerable_retrieval`` top highlights outside it.

    A sentence that contains an answer's text anywhere is never a negative of that question.
    """
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for item in seen:
        row = item.row
        texts = view.engine.texts[row.doc]
        answer_texts = {texts[a:b].lower() for a, b in row.answers}

        def clean(unit: Unit, answer_texts: set[str] = answer_texts) -> bool:
            sentence = view.sentence(unit).lower()
            return not any(t and t in sentence for t in answer_texts)

        own = set(item.paragraph)
        retrieved = [u for u in dict.fromkeys(item.highlights) if u not in own]
        if row.answers:
            positives = [u for u in item.paragraph if view.holds(u, row.answers)]
            if not positives:
                positives = [u for c in item.candidates for u in c if view.holds(u, row.answers)][:1]
            if not positives:
                continue
            pairs.append(Pair(row.id, row.q, positives[0], 1, "positive"))
            others = [u for u in item.paragraph if u not in positives and clean(u)]
            for u in rng.sample(others, min(per_paragraph, len(others))):
                pairs.append(Pair(row.id, row.q, u, 0, "paragraph"))
            for u in [u for u in retrieved if clean(u) and u not in positives][:per_retrieval]:
                pairs.append(Pair(row.id, row.q, u, 0, "retrieval"))
        else:
            closest = sorted(item.paragraph, key=lambda u: -item.cosine.get(u, 0.0))
            for u in closest[:unanswerable_paragraph]:
                pairs.append(Pair(row.id, row.q, u, 0, "unanswerable-paragraph"))
            for u in retrieved[:unanswerable_retrieval]:
                pairs.append(Pair(row.id, row.q, u, 0, "unanswerable-retrieval"))
    return pairs


def pair_table(pairs: Sequence[Pair]) -> dict[str, int]:
    """How many pairs of each kind."""
    out: dict[str, int] = {}
    for p in pairs:
        out[p.kind] = out.get(p.kind, 0) + 1
    return out


def cosines(seen: Seen, units: Sequence[Unit]) -> np.ndarray:
    return np.array([seen.cosine[u] for u in units], dtype=np.float32)
