from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.lexical import LexicalIndex, terms


def test_terms_are_stemmed_lowercase_content_words() -> None:
    assert terms("What powertrains will the Zhijie X9 offer?") == ["powertrain", "zhiji", "x9", "offer"]
    assert terms("It sold 1,649 units, up 7.8%.") == ["sold", "1649", "unit", "7.8"]


def test_bm25_prefers_documents_with_rarer_matching_terms() -> None:
    docs = [terms("cars and more cars"), terms("the Qijing brand of cars"), terms("nothing relevant here")]
    index = LexicalIndex.build(docs)
    scores = index.scores(terms("Which brand is Qijing?"))
    assert int(np.argmax(scores)) == 1
    assert scores[2] == 0.0
    assert np.all(index.scores(terms("unknown words only")) == 0)
    assert np.all(index.scores([]) == 0)


def test_query_terms_weigh_unknown_terms_in_the_total() -> None:
    index = LexicalIndex.build([terms("alpha beta"), terms("beta gamma")])
    query = index.query(terms("alpha zeta"))
    assert len(query.ids) == 1
    assert query.total_idf > float(query.idf.sum())


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    docs = [terms("alpha beta beta"), terms("gamma delta"), terms("beta gamma")]
    index = LexicalIndex.build(docs)
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    query = terms("beta gamma")
    assert np.allclose(loaded.scores(query), index.scores(query))
    assert loaded.idf("beta") == index.idf("beta")
