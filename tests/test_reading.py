"""The reader's part in ranking, with a small deterministic stand-in for the trained model."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from qa.answering.engine import Engine
from qa.answering.rank import Ranker
from qa.answering.reading import ReaderUse
from qa.models.reader import ReaderSettings
from tests.helpers import check_answer

_WORD = re.compile(r"[a-z0-9]{4,}")


class FakeReader:
    """Logit: how many of the question's longer words the sentence (before any [SEP]) holds, minus 2."""

    name = "fake reader"
    settings = ReaderSettings("fake", (3, 4, 5), 128, "sentence", "float32", "0" * 64)

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        self.calls.append((question, list(texts)))
        asked = set(_WORD.findall(question.lower()))
        return np.array([len(asked & set(_WORD.findall(t.split(" [SEP] ")[0].lower()))) - 2.0 for t in texts])


def with_reader(engine: Engine, use: ReaderUse) -> Engine:
    reading = Engine(engine.corpus, engine.index, engine.embedder, vectors=engine.vectors, reader=FakeReader())
    reading.ranker = Ranker(reading.index, reading.texts, reader=reading.reader, use=use)
    return reading


def test_the_reader_reads_the_best_sentences_of_the_top_candidates_once(fake_engine: Engine) -> None:
    engine = with_reader(fake_engine, ReaderUse(passages=4, sentences=2, weight=1.0, highlight=1.0))
    answer = engine.ask("What did GAC Group launch together with Huawei Qiankun?", k=5)
    reader = engine.reader
    assert isinstance(reader, FakeReader) and len(reader.calls) == 1
    question, texts = reader.calls[0]
    assert question == "What did GAC Group launch together with Huawei Qiankun?" and len(texts) <= 8
    check_answer(answer.to_json(), engine.texts, 5)
    read = [h for h in answer.hits if h.reader is not None]
    assert read and all(0 <= h.reader <= 1 for h in read if h.reader is not None)
    assert all(h.highlight.text in texts for h in read)  # a read passage's reader score is its highlight's


def test_the_reader_decides_the_highlight_and_the_order_when_it_weighs_most(fake_engine: Engine) -> None:
    engine = with_reader(fake_engine, ReaderUse(passages=5, sentences=10, weight=50.0, highlight=50.0))
    question = "Which brand did GAC Group and Huawei Qiankun launch jointly?"
    answer = engine.ask(question, k=5)
    reader = engine.reader
    assert isinstance(reader, FakeReader)
    probabilities = dict(
        zip(reader.calls[0][1], 1 / (1 + np.exp(-reader.score(question, reader.calls[0][1]))), strict=True)
    )
    top = answer.hits[0]
    assert top.reader == max(probabilities.values())  # the best sentence read wins, and is highlighted
    assert probabilities[top.highlight.text] == top.reader
    assert answer.to_json()["passages"][0]["reader"] == round(top.reader, 4)


def test_without_a_reader_the_ranking_is_todays(fake_engine: Engine) -> None:
    question = "What powertrains will the Zhijie X9 offer?"
    plain = fake_engine.ask(question, 5)
    assert fake_engine.reader is None and all(h.reader is None for h in plain.hits)
    again = Engine(fake_engine.corpus, fake_engine.index, fake_engine.embedder, vectors=fake_engine.vectors)
    assert again.ask(question, 5) == plain


def test_the_gate_reads_only_where_the_two_best_candidates_are_close() -> None:
    always, gated = ReaderUse(2, 1, 1.0, 0.0), ReaderUse(2, 1, 1.0, 0.0, gate=0.2)
    assert always.reads(np.array([3.0, 1.0])) and always.reads(np.array([1.0]))
    assert gated.reads(np.array([1.0, 1.15, 0.2])) and gated.reads(np.array([0.9, 0.9]))
    assert not gated.reads(np.array([1.0, 1.25, 0.2])) and not gated.reads(np.array([1.0]))


def test_a_question_whose_two_best_candidates_are_far_apart_is_not_read(fake_engine: Engine) -> None:
    question = "What powertrains will the Zhijie X9 offer?"
    scores = np.sort(fake_engine.ranker.scores(fake_engine.read(fake_engine.prepare([question])[0]).found))[-2:]
    margin = float(scores[1] - scores[0])
    assert margin > 0
    plain = fake_engine.ask(question, 5)
    far = with_reader(fake_engine, ReaderUse(2, 1, 1.0, 0.0, gate=margin * 0.9))
    assert far.ask(question, 5).hits == plain.hits and not far.reader.calls  # type: ignore[attr-defined]
    near = with_reader(fake_engine, ReaderUse(2, 1, 1.0, 0.0, gate=margin * 1.1))
    answer = near.ask(question, 5)
    assert len(near.reader.calls) == 1 and len(near.reader.calls[0][1]) == 2  # type: ignore[attr-defined]
    assert sum(h.reader is not None for h in answer.hits) == 2
