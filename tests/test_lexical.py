from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.retrieval.lexical import LexicalConfig, LexicalIndex, idf

terms = LexicalConfig().make_tokenizer().terms


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
    loaded = LexicalIndex.load(tmp_path, LexicalConfig())
    query = terms("beta gamma")
    assert np.allclose(loaded.scores(query), index.scores(query))
    assert np.array_equal(loaded.query(query).idf, index.query(query).idf)


def test_loading_with_other_bm25_settings_is_refused(tmp_path: Path) -> None:
    LexicalIndex.build([terms("alpha beta"), terms("gamma")]).save(tmp_path)
    with pytest.raises(ValueError, match="do not match"):
        LexicalIndex.load(tmp_path, LexicalConfig(k1=1.5))


def test_bm25_is_lucenes_formula_with_the_one_idf() -> None:
    """One document of two holds "alpha" once, in a two-term document (average length 1.5)."""
    index = LexicalIndex.build([terms("alpha beta"), terms("gamma")])
    k1, b = LexicalConfig().k1, LexicalConfig().b
    expected = float(idf(1, 2)) * 1 / (1 + k1 * (1 - b + b * 2 / 1.5))
    assert np.isclose(index.scores(["alpha"])[0], expected, rtol=1e-6)
    assert idf(0, 2) > idf(1, 2) > idf(2, 2) > 0


def test_the_tokenizer_is_made_from_the_index_settings() -> None:
    """An index built with other stop words tokenises with them, not with the module's defaults."""
    own = LexicalIndex.build([["what"]], LexicalConfig(stopwords=("the",)))
    assert own.terms("What is the car?") == ["what", "is", "car"]
    assert LexicalIndex.build([["car"]]).terms("What is the car?") == ["car"]
