"""Validate the reader against the bi-encoder's cosine (the engine's sentence vectors), and time it.

    python -m benchmarks.eval_reader                        # the shipped reader, validation sets
    python -m benchmarks.eval_reader --model RUN/checkpoint-200 --per-article 100
    python -m benchmarks.eval_reader --heldout              # benchmarks/data: report only
    python -m benchmarks.eval_reader --speed

For each question the engine's top candidates are found as the product finds them (``Engine.ask_many``)
and both scorers pick a sentence:

* ``para@1``: answerable SQuAD questions, the best sentence of the paragraph the question was written on
  holds a gold span (the reader's skill at reading, retrieval left out);
* ``best@N``: answerable questions, the best sentence among all sentences of the top N candidates holds
  a gold span (``any@N``: some sentence there does: the ceiling; ``highlight@1``: today's highlight);
* ``AUC``: the best score over the top-10 candidates' sentences (``AUC para``: over the true paragraph)
  separating answerable from unanswerable questions; ``refused@5%``: the share of unanswerable
  questions below the score that refuses 5 % of the answerable ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common import ARTICLE, BENCH, DATA, median_of
from benchmarks.reader_data import Row, Seen, Unit, View, read_rows
from qa.models.reader import READER_DIR, Reader, ReaderSettings, TorchReader, open_reader, save_shipped

WORK = Path("/tmp/reader-work")
HITS = [5, 10]  # the N of best@N; --hits sets it
Scorer = Callable[[Seen, Sequence[Unit]], np.ndarray]


@dataclass(frozen=True)
class Group:
    """Questions on one corpus (a file or folder) and the engine's view of them."""

    name: str
    corpus: Path
    rows: list[Row]


def validation_groups(bench: Path, per_article: int) -> list[Group]:
    groups = []
    for path in sorted((bench / "squad-dev").glob("*.questions.jsonl")):
        doc = path.name.removesuffix(".questions.jsonl") + ".txt"
        rows = read_rows(path, doc)
        if per_article:
            rows = rows[:: max(1, len(rows) // per_article)][:per_article]
        groups.append(Group("squad-dev", path.with_name(doc), rows))
    groups.append(Group("article-dev", ARTICLE, read_rows(bench / "article-dev.questions.jsonl", ARTICLE.name)))
    return groups


def heldout_groups(bench: Path) -> list[Group]:
    article = [
        *read_rows(DATA / "answerable-article.questions.jsonl", ARTICLE.name),
        *read_rows(DATA / "unanswerable-article.questions.jsonl", ARTICLE.name),
    ]
    groups = [Group("heldout-article", ARTICLE, article)]
    by_doc: dict[str, list[Row]] = {}
    for line in (DATA / "unanswerable-squad.questions.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            by_doc.setdefault(data["doc"], []).append(Row(str(data["id"]), str(data["q"]), data["doc"], (), None))
    for doc, rows in sorted(by_doc.items()):
        groups.append(Group("heldout-squad-unanswerable", bench / "squad-dev" / doc, rows))
    return groups


def see_all(groups: Sequence[Group]) -> dict[str, list[tuple[View, Seen]]]:
    """Each set's questions as the engine sees them (one engine per document, as ``qa eval`` does)."""
    from qa.answering.engine import Engine
    from qa.models import embedders

    embedder = embedders.make_embedder(None, WORK / "models")
    out: dict[str, list[tuple[View, Seen]]] = {}
    for group in groups:
        view = View(Engine.open([group.corpus], index_dir=WORK / "index-bench", embedder=embedder))
        out.setdefault(group.name, []).extend((view, s) for s in view.see(group.rows, hits=max(HITS)))
    return out


def reader_scorer(reader: Reader) -> Callable[[View, Seen, Sequence[Unit]], np.ndarray]:
    context = reader.settings.context
    cache: dict[tuple[int, str, Unit], float] = {}

    def score(view: View, seen: Seen, units: Sequence[Unit]) -> np.ndarray:
        missing = [u for u in dict.fromkeys(units) if (id(view), seen.row.id, u) not in cache]
        if missing:
            logits = reader.score(seen.row.q, [view.text(u, context) for u in missing])
            cache.update({(id(view), seen.row.id, u): float(v) for u, v in zip(missing, logits, strict=True)})
        return np.array([cache[(id(view), seen.row.id, u)] for u in units], dtype=np.float64)

    return score


def cosine_scorer(view: View, seen: Seen, units: Sequence[Unit]) -> np.ndarray:
    return np.array([seen.cosine[u] for u in units], dtype=np.float64)


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """P(a positive scores above a negative), ties counted half."""
    if not positive or not negative:
        return float("nan")
    p, n = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def refused_at(answerable: Sequence[float], unanswerable: Sequence[float], wrongly: float = 0.05) -> float:
    """Share of unanswerable below the threshold that refuses ``wrongly`` of the answerable."""
    if not answerable or not unanswerable:
        return float("nan")
    threshold = float(np.quantile(np.asarray(answerable), wrongly))
    return float(np.mean(np.asarray(unanswerable) < threshold))


def metrics(
    items: Sequence[tuple[View, Seen]], score: Callable[[View, Seen, Sequence[Unit]], np.ndarray]
) -> dict[str, float]:
    para: list[bool] = []
    best: dict[int, list[bool]] = {n: [] for n in HITS}
    top_max: dict[bool, list[float]] = {True: [], False: []}
    para_max: dict[bool, list[float]] = {True: [], False: []}
    for view, seen in items:
        answers = seen.row.answers
        if seen.paragraph:
            values = score(view, seen, seen.paragraph)
            para_max[bool(answers)].append(float(values.max()))
            if answers and any(view.holds(u, answers) for u in seen.paragraph):
                para.append(view.holds(seen.paragraph[int(np.argmax(values))], answers))
        units = [u for c in seen.candidates for u in c]
        if not units:
            continue
        values = score(view, seen, units)
        top_max[bool(answers)].append(float(values.max()))
        if answers:
            for n in HITS:
                head = [u for c in seen.candidates[:n] for u in c]
                best[n].append(view.holds(head[int(np.argmax(values[: len(head)]))], answers))
    out = {"para@1": _mean(para)}
    out |= {f"best@{n}": _mean(best[n]) for n in HITS}
    out |= {
        "AUC": auc(top_max[True], top_max[False]),
        "refused@5%": refused_at(top_max[True], top_max[False]),
        "AUC para": auc(para_max[True], para_max[False]),
        "refused@5% para": refused_at(para_max[True], para_max[False]),
    }
    return out


def ceilings(items: Sequence[tuple[View, Seen]]) -> dict[str, float]:
    """What no sentence scorer can beat, and today's highlight."""
    out: dict[str, float] = {}
    answerable = [(v, s) for v, s in items if s.row.answers]
    for n in HITS:
        out[f"any@{n}"] = _mean(
            [any(v.holds(u, s.row.answers) for c in s.candidates[:n] for u in c) for v, s in answerable]
        )
    out["highlight@1"] = _mean([bool(s.highlights) and v.holds(s.highlights[0], s.row.answers) for v, s in answerable])
    return out


def _mean(values: Sequence[bool | float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def load_reader(model: Path | None, backend: str, precision: str = "fp32") -> Reader:
    """The shipped reader, or a training run's checkpoint shipped into a temporary folder first (so that
    what is measured is what would ship: fp16 upper layers composed with the base, then ONNX)."""
    folder = READER_DIR if model is None else ship_checkpoint(model)
    if backend == "torch":
        return TorchReader(folder)
    reader = open_reader(WORK / "models", lambda line: print(line, file=sys.stderr), precision=precision, folder=folder)
    if reader is None:
        raise SystemExit(f"no reader to evaluate in {folder}")
    return reader


def ship_checkpoint(model: Path) -> Path:
    """A training run's CrossEncoder folder as the shipped files would be (in a folder under WORK)."""
    from sentence_transformers import CrossEncoder

    folder = WORK / "shipped" / "-".join(model.resolve().parts[-2:])
    if (folder / "reader.json").is_file():
        return folder
    found = [p / "reader_settings.json" for p in (model, model.parent) if (p / "reader_settings.json").is_file()]
    settings = ReaderSettings.from_json(json.loads(found[0].read_text(encoding="utf-8")))
    encoder = CrossEncoder(str(model), device="cpu", max_length=settings.max_length)
    save_shipped(encoder[0].model, folder, settings)
    return folder


def table(rows: dict[str, dict[str, float]], counts: dict[str, str]) -> str:
    columns = list(next(iter(rows.values())))
    lines = ["| set | scorer | questions | " + " | ".join(columns) + " |", "|---|---|---|" + "---:|" * len(columns)]
    for key, values in rows.items():
        group, scorer = key.split(" / ")
        cells = " | ".join("" if np.isnan(v) else f"{v:.3f}" for v in values.values())
        lines.append(f"| {group} | {scorer} | {counts[group]} | {cells} |")
    return "\n".join(lines)


def quality(args: argparse.Namespace) -> None:
    reader = load_reader(args.model, args.backend)
    groups = heldout_groups(args.bench) if args.heldout else validation_groups(args.bench, args.per_article)
    seen = see_all(groups)
    if args.heldout:  # SQuAD's held-out unanswerable questions against the validation answerable ones
        answerable = see_all([g for g in validation_groups(args.bench, args.per_article) if g.name == "squad-dev"])
        seen["heldout-squad-unanswerable"] += [(v, s) for v, s in answerable["squad-dev"] if s.row.answers]
        seen["heldout-squad-unanswerable (+ squad-dev answerable)"] = seen.pop("heldout-squad-unanswerable")
    score = reader_scorer(reader)
    rows: dict[str, dict[str, float]] = {}
    counts: dict[str, str] = {}
    extra: dict[str, dict[str, float]] = {}
    for name, items in seen.items():
        n_ans = sum(1 for _, s in items if s.row.answers)
        counts[name] = f"{n_ans} + {len(items) - n_ans}"
        rows[f"{name} / reader"] = metrics(items, score)
        rows[f"{name} / cosine"] = metrics(items, cosine_scorer)
        extra[name] = ceilings(items)
    print(f"# {reader.name}, context {reader.settings.context!r}, {args.model or 'shipped'}")
    print(table(rows, counts))
    print()
    print("| set | " + " | ".join(next(iter(extra.values()))) + " |")
    print("|---|" + "---:|" * len(next(iter(extra.values()))))
    for name, values in extra.items():
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values.values()) + " |")
    if args.json:
        args.json.write_text(
            json.dumps({"reader": reader.name, "model": str(args.model), "rows": rows, "ceilings": extra}, indent=1)
        )


def speed(args: argparse.Namespace) -> None:
    """Milliseconds for one question against N sentences, against one PyTorch query forward."""
    import torch

    from qa.documents.corpus import read_document
    from qa.documents.passages import split_document
    from qa.models.embed_torch import SentenceTransformerEmbedder
    from qa.models.reader import reader_text

    torch.set_num_threads(args.threads)
    document = read_document(ARTICLE, ARTICLE.name)
    question = "What did GAC Group launch together with Huawei Qiankun?"
    readers = {
        "onnx fp32": load_reader(args.model, "onnx", "fp32"),
        "onnx int8": load_reader(args.model, "onnx", "int8"),
        "torch": load_reader(args.model, "torch"),
    }
    context = readers["torch"].settings.context
    texts = [
        reader_text(document.text, p.sentences, j, context, p.section)
        for p in split_document(document)
        for j in range(len(p.sentences))
    ]
    embedder = SentenceTransformerEmbedder()
    embedder.encode([question])
    forward = median_of(args.repeats, lambda: embedder.encode([question])) * 1000
    print(f"# one PyTorch query forward of all-MiniLM-L6-v2: {forward:.2f} ms (median of {args.repeats})")
    print("| backend | N sentences | ms a question | × query forward |")
    print("|---|---:|---:|---:|")
    for name, reader in readers.items():
        for n in args.sentences:
            ms = median_of(args.repeats, _scoring(reader, question, texts[:n])) * 1000
            print(f"| {name} | {n} | {ms:.1f} | {ms / forward:.2f} |", flush=True)


def _scoring(reader: Reader, question: str, texts: list[str]) -> Callable[[], object]:
    reader.score(question, texts)  # warm
    return lambda: reader.score(question, texts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval_reader", description=__doc__.split("\n")[0])
    parser.add_argument("--bench", type=Path, default=BENCH)
    parser.add_argument("--model", type=Path, default=None, help="a training run's CrossEncoder folder")
    parser.add_argument("--backend", choices=("onnx", "torch"), default="onnx")
    parser.add_argument("--per-article", type=int, default=0, help="at most this many questions per SQuAD article")
    parser.add_argument("--heldout", action="store_true", help="the held-out sets of benchmarks/data (report only)")
    parser.add_argument("--hits", type=int, nargs="+", default=HITS, help="the N of best@N (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--speed", action="store_true", help="time the reader instead")
    parser.add_argument("--sentences", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    HITS[:] = sorted(args.hits)
    import torch

    torch.set_num_threads(args.threads)
    if args.speed:
        speed(args)
    else:
        quality(args)


if __name__ == "__main__":
    main()
