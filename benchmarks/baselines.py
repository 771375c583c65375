"""Re-measure three "peer" retrieval setups and this engine on every bench set, with the same model.

Run from the project folder (``benchmarks/__init__.py`` makes this folder a package)::

    .venv/bin/python -m benchmarks.baselines [--per-article] [--bench ../shared/bench]

Setups, all over one document at a time and all with all-MiniLM-L6-v2 (``make_embedder``,
loaded once):

1. LangChain's ``RecursiveCharacterTextSplitter`` (the real library, ``langchain-text-splitters``) with
   chunk_size=1000, chunk_overlap=200, separators ``["\\n\\n", "\\n", " ", ""]``, length in characters;
   chunks embedded and searched by cosine with an exact FAISS inner-product index (top 5).
2. The same with 500/100.
3. Paragraphs (``qa.documents.structure.parse_layout``; the title line is its own passage), dense cosine ranking
   and BM25 ranking (``qa.retrieval.lexical``) fused by reciprocal rank fusion with k=60.
4. This engine (``qa.answering.engine.Engine``), index built in a temporary folder: its first step (the same
   passages ranked by plain RRF of dense and BM25, ``--fusion rrf``) and the engine as it ships.

Peers neither highlight nor reject: their highlight@1 is shown as "–" and their rejection rates are 0
(they always answer). Each peer is wrapped as a ``qa.evaluate.Answerer`` (``Peer``), so that every row
is measured by the same ``qa.evaluate.evaluate`` (same hit definition, same median of passage lengths).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answering.engine import Engine, Turn
from qa.answering.results import Answer, Highlight, Hit
from qa.documents.corpus import Document, read_document
from qa.documents.passages import Passage
from qa.documents.structure import parse_layout
from qa.evaluate import Metrics, Question, evaluate, mean_metrics, read_questions
from qa.models.embed import Embedder
from qa.models.embedders import make_embedder
from qa.retrieval.dense import DenseIndex
from qa.retrieval.lexical import LexicalConfig, LexicalIndex
from qa.retrieval.search import top_ids

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BENCH = ROOT.parent / "shared" / "bench"
ARTICLE = ROOT / "corpus" / "harmonyos-smart-mobility.txt"
HELDOUT = ROOT / "benchmarks" / "data" / "article-heldout.questions.jsonl"

K = 5
RRF_K = 60
SEPARATORS = ["\n\n", "\n", " ", ""]
ENGINE = "this engine (qa): sentence passages ≤600, weighted dense+sentence+BM25+coverage, threshold"
ENGINE_RRF = "this engine's first step: sentence passages ≤600, RRF(dense, BM25)"

Span = tuple[int, int]


class Retriever:
    """A peer's index over one document: ``rank`` gives the row ids of the best passages, best first."""

    def rank(self, vector: np.ndarray, question: str, k: int) -> np.ndarray:
        """Row ids of the ``k`` best passages for a question (its embedding ``vector`` and its text)."""
        raise NotImplementedError


class DenseRetriever(Retriever):
    """Cosine similarity over unit vectors with an exact FAISS ``IndexFlatIP``."""

    def __init__(self, vectors: np.ndarray) -> None:
        self._index = DenseIndex.build(vectors, exact_limit=len(vectors))
        assert self._index.exact

    def rank(self, vector: np.ndarray, question: str, k: int) -> np.ndarray:
        _, ids = self._index.search(vector, k)
        return ids.astype(np.int64)


class FusedRetriever(Retriever):
    """Dense cosine ranking and BM25 ranking fused by reciprocal rank fusion (score = Σ 1 / (60 + rank)).

    Both rankings cover every passage, except that passages with a BM25 score of 0 (no question term)
    are left out of the BM25 ranking; ties go to the earlier passage.
    """

    def __init__(self, vectors: np.ndarray, passage_terms: Sequence[Sequence[str]]) -> None:
        self._dense = DenseIndex.build(vectors, exact_limit=len(vectors))
        self._lexical = LexicalIndex.build(passage_terms)

    def rank(self, vector: np.ndarray, question: str, k: int) -> np.ndarray:
        n = self._dense.size
        _, dense_ids = self._dense.search(vector, n)
        bm25 = self._lexical.scores(self._lexical.terms(question))
        lexical_ids = top_ids(bm25, n)
        lexical_ids = lexical_ids[bm25[lexical_ids] > 0]
        fused = np.zeros(n, dtype=np.float64)
        fused[dense_ids] += 1.0 / (RRF_K + np.arange(1, len(dense_ids) + 1))
        fused[lexical_ids] += 1.0 / (RRF_K + np.arange(1, len(lexical_ids) + 1))
        return top_ids(fused, k)


@dataclass(frozen=True)
class Setup:
    """A peer: how it cuts a document into spans, and how it ranks them given their embeddings."""

    name: str
    split: Callable[[str], list[Span]]
    build: Callable[[str, list[Span], np.ndarray], Retriever]


@dataclass(frozen=True)
class Bench:
    """One question file and the document it is about."""

    name: str
    questions: Path
    document: Path


@dataclass
class Notes:
    """Things worth telling after the tables."""

    repaired_offsets: int = 0
    chunks: int = 0


NOTES = Notes()


def recursive_chunks(text: str, chunk_size: int, chunk_overlap: int) -> list[Span]:
    """Spans of LangChain ``RecursiveCharacterTextSplitter`` chunks, checked against ``text``.

    ``start_index`` comes from ``add_start_index=True``; when ``text`` does not hold the chunk there, the
    chunk is looked up with ``text.find`` from the previous chunk's start.
    """
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError:
        raise SystemExit(
            "baselines: langchain-text-splitters is not installed; run "
            "`.venv/bin/pip install -c constraints.txt langchain-text-splitters`"
        ) from None
    splitter = RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        length_function=len,
        add_start_index=True,
    )
    spans: list[Span] = []
    previous = 0
    for document in splitter.create_documents([text]):
        chunk = document.page_content
        start = int(document.metadata["start_index"])
        if start < 0 or text[start : start + len(chunk)] != chunk:
            NOTES.repaired_offsets += 1
            start = text.find(chunk, previous)
            if start < 0:
                raise RuntimeError(f"a {len(chunk)}-character chunk is not in the text: {chunk[:60]!r}")
        spans.append((start, start + len(chunk)))
        previous = start
    NOTES.chunks += len(spans)
    return spans


def paragraph_spans(text: str) -> list[Span]:
    """The title line (if any) and every body paragraph, as ``qa.documents.structure`` sees them."""
    layout = parse_layout(text)
    blocks = [layout.title] if layout.title else []
    blocks.extend(layout.paragraphs)
    return [(p.start, p.end) for p in blocks]


def peer_setups() -> list[Setup]:
    """The three peers, in table order."""

    def dense(_text: str, _spans: list[Span], vectors: np.ndarray) -> Retriever:
        return DenseRetriever(vectors)

    def fused(text: str, spans: list[Span], vectors: np.ndarray) -> Retriever:
        terms = LexicalConfig().make_tokenizer().terms
        return FusedRetriever(vectors, [terms(text[s:e]) for s, e in spans])

    return [
        Setup(
            "LangChain-style RecursiveCharacterTextSplitter 1000/200, FAISS dense",
            lambda text: recursive_chunks(text, 1000, 200),
            dense,
        ),
        Setup(
            "LangChain-style RecursiveCharacterTextSplitter 500/100, FAISS dense",
            lambda text: recursive_chunks(text, 500, 100),
            dense,
        ),
        Setup("paragraphs + BM25 + reciprocal rank fusion", paragraph_spans, fused),
    ]


class Peer:
    """A peer setup over one document, answering like the engine (``qa.evaluate.Answerer``).

    Its answers are always "answered"; the highlight is the whole passage (not scored for peers).
    """

    def __init__(self, document: Document, spans: list[Span], retriever: Retriever, vectors: Callable[..., np.ndarray]):
        self._document = document
        self._spans = spans
        self._retriever = retriever
        self._vectors = vectors
        self.passages = tuple(
            Passage(doc=document.name, start=s, end=e, section=None, paragraph=0, line=0, sentences=((s, e),))
            for s, e in spans
        )

    @property
    def documents(self) -> tuple[Document, ...]:
        return (self._document,)

    def ask_many(
        self,
        questions: Sequence[str],
        k: int = K,
        *,
        histories: Sequence[Sequence[Turn]] | None = None,
    ) -> list[Answer]:
        """Each question on its own (peers have no notion of a conversation)."""
        text = self._document.text
        answers = []
        for question, vector in zip(questions, self._vectors(questions), strict=True):
            hits = []
            for rank, i in enumerate(self._retriever.rank(vector, question, k), start=1):
                p = self.passages[int(i)]
                quote = text[p.start : p.end]
                hits.append(Hit(rank, 0.0, p, quote, Highlight(p.start, p.end, quote)))
            answers.append(Answer(question=question, answered=True, hits=tuple(hits)))
        return answers


class Runner:
    """Measures every setup on bench sets, caching passages, embeddings and engines per document."""

    def __init__(self, embedder: Embedder, setups: Sequence[Setup], index_dir: Path) -> None:
        self.embedder = embedder
        self.setups = list(setups)
        self.index_dir = index_dir
        self._peers: dict[tuple[Path, str], Peer] = {}
        self._engines: dict[Path, Engine] = {}
        self._questions: dict[str, np.ndarray] = {}
        self.seconds: dict[str, float] = {}

    def _question_vectors(self, questions: Sequence[str]) -> np.ndarray:
        """Question embeddings, computed once for all setups."""
        new = [q for q in dict.fromkeys(questions) if q not in self._questions]
        began = time.perf_counter()
        for question, vector in zip(new, self.embedder.encode(new) if new else [], strict=True):
            self._questions[question] = vector
        self._timed("question embeddings", began)
        return np.array([self._questions[q] for q in questions])

    def _peer(self, setup: Setup, path: Path) -> Peer:
        key = (path, setup.name)
        if key not in self._peers:
            document = read_document(path, path.name)
            spans = setup.split(document.text)
            vectors = self.embedder.encode([document.text[s:e] for s, e in spans])
            retriever = setup.build(document.text, spans, vectors)
            self._peers[key] = Peer(document, spans, retriever, self._question_vectors)
        return self._peers[key]

    def _engine(self, path: Path) -> Engine:
        if path not in self._engines:
            self._engines[path] = Engine.open([path], embedder=self.embedder, index_dir=self.index_dir)
        return self._engines[path]

    def _timed(self, name: str, began: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began

    def measure(self, bench: Bench) -> dict[str, Metrics]:
        """Metrics of every setup (and the engine) on one question file, keyed by setup name."""
        questions: list[Question] = read_questions(bench.questions)
        doc = bench.document.name
        self._question_vectors([q.q for q in questions])
        out: dict[str, Metrics] = {}
        for setup in self.setups:
            began = time.perf_counter()
            out[setup.name] = evaluate(self._peer(setup, bench.document), questions, doc, K)
            self._timed(setup.name, began)
        began = time.perf_counter()
        engine = self._engine(bench.document)
        rrf = Engine(engine.corpus, engine.index, engine.embedder, engine.stored, vectors=engine.vectors, fusion="rrf")
        for name, ranked in ((ENGINE_RRF, rrf), (ENGINE, engine)):
            out[name] = evaluate(ranked, questions, doc, K)
        self._timed(ENGINE, began)
        return out


COLUMNS = (
    "setup",
    "median chars",
    "hit@1",
    "hit@3",
    "hit@5",
    "MRR",
    "highlight@1",
    "rejected (unanswerable)",
    "wrongly rejected",
)


def table(rows: Sequence[tuple[str, Metrics]]) -> str:
    """A Markdown table, one row per setup; peers (not the engine) show "–" highlight and 0 rejections."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    for name, m in rows:
        engine = name in (ENGINE, ENGINE_RRF)
        rejected = "–" if m.rejected_unanswerable is None else f"{m.rejected_unanswerable:.3f}"
        cells = [
            name,
            f"{m.median_chars:.0f}",
            f"{m.hit1:.3f}",
            f"{m.hit3:.3f}",
            f"{m.hit5:.3f}",
            f"{m.mrr:.3f}",
            f"{m.highlight1:.3f}" if engine else "–",
            rejected if engine else "0",
            f"{m.wrongly_rejected:.3f}" if engine else "0",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def describe(m: Metrics) -> str:
    return f"{m.questions} questions: {m.answerable} answerable, {m.unanswerable} unanswerable"


def squad_benches(bench_dir: Path) -> list[Bench]:
    """The SQuAD articles of ``bench_dir/squad-dev`` that have a question file, by name."""
    out = []
    for questions in sorted((bench_dir / "squad-dev").glob("*.questions.jsonl")):
        title = questions.name.removesuffix(".questions.jsonl")
        out.append(Bench(title, questions, questions.with_name(title + ".txt")))
    if not out:
        raise SystemExit(f"baselines: no *.questions.jsonl in {bench_dir / 'squad-dev'}")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Measure, then print the command line and one Markdown table per benchmark group."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baselines", description=__doc__.split("\n")[0])
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="bench folder (default: %(default)s)")
    parser.add_argument("--per-article", action="store_true", help="also print one table per SQuAD article")
    args = parser.parse_args(argv)
    command = shlex.join([Path(sys.executable).name, "-m", "benchmarks.baselines", *sys.argv[1:]])
    print(f"`{command}`\n")
    sys.stdout.flush()

    started = time.perf_counter()
    embedder = make_embedder()
    loaded = time.perf_counter() - started
    setups = peer_setups()
    names = [s.name for s in setups] + [ENGINE_RRF, ENGINE]
    article = [
        Bench("article-dev", args.bench / "article-dev.questions.jsonl", ARTICLE),
        Bench("article-heldout", HELDOUT, ARTICLE),
    ]
    squad = squad_benches(args.bench)

    with tempfile.TemporaryDirectory(prefix="qa-baselines-") as index_dir:
        runner = Runner(embedder, setups, Path(index_dir))
        measured: list[Metrics] = []
        for bench in article:
            print(f"progress: {bench.name}", file=sys.stderr, flush=True)
            results = runner.measure(bench)
            measured.extend(results.values())
            print(f"### {bench.name} ({describe(results[ENGINE])})\n")
            print(table([(name, results[name]) for name in names]) + "\n", flush=True)
        per_article: list[tuple[str, dict[str, Metrics]]] = []
        for bench in squad:
            print(f"progress: SQuAD {bench.name}", file=sys.stderr, flush=True)
            per_article.append((bench.name, runner.measure(bench)))
            measured.extend(per_article[-1][1].values())

    means = {name: mean_metrics([results[name] for _, results in per_article]) for name in names}
    print(f"### SQuAD, unweighted mean of {len(per_article)} articles ({describe(means[ENGINE])})\n")
    print(table([(name, means[name]) for name in names]) + "\n")
    if args.per_article:
        for title, results in per_article:
            print(f"#### SQuAD {title} ({describe(results[ENGINE])})\n")
            print(table([(name, results[name]) for name in names]) + "\n")

    total = time.perf_counter() - started
    not_verbatim = sum(m.not_verbatim for m in measured)
    print(
        f"Model load {loaded:.1f} s; wall time {total:.1f} s ("
        + ", ".join(f"{name}: {seconds:.1f} s" for name, seconds in runner.seconds.items())
        + f"). LangChain chunks: {NOTES.chunks}, start_index repaired with text.find: {NOTES.repaired_offsets}; "
        f"hits whose quote is not the text at its offsets: {not_verbatim}."
    )


if __name__ == "__main__":
    main()
