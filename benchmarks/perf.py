"""Speed of the engine: warm question latency, cold start, index build throughput and memory.

    .venv/bin/python -m benchmarks.perf [--large-passages 50000] [--skip-large] [--repeats 5]

Prints Markdown tables of medians and percentiles (docs/performance.md records them). Nothing here is
a pass/fail test: times on a shared 2-core machine are noisy, which is why every figure is a median
or a percentile over many runs, and the load average is printed with the machine facts.

* Warm latency: ``Engine.ask`` at k=5 on every article question (dev and held-out), repeated, next to
  its parts: the question embedding (tokenize + forward), the model's forward pass alone (the floor),
  the retrieval after embedding, and PyTorch's forward for reference.
* Cold start: ``qa --help``; a fresh process from start to its first answer (``qa ask``), with the
  index built and the model exported; the app from start to serving; each heavy library's import time.
* Index build: the article after the model is loaded; a large corpus (the six SQuAD dev texts copied
  until it holds at least ``--large-passages`` passages, every sentence made unique so that nothing is
  embedded only once) in a separate process, for passages per second and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.common import ARTICLE, ROOT, timed
from benchmarks.common import BENCH as SHARED

QUESTION_FILES = (
    SHARED / "article-dev.questions.jsonl",
    ROOT / "benchmarks" / "data" / "article-heldout.questions.jsonl",
)
QA = [sys.executable, "-m", "qa"]
HEAVY = ("numpy", "scipy.sparse", "faiss", "tokenizers", "onnxruntime", "gradio", "torch", "sentence_transformers")


def log(message: str) -> None:
    print(f"perf: {message}", file=sys.stderr, flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def percentiles(samples: Sequence[float]) -> tuple[float, float, float]:
    values = np.asarray(samples)
    return float(np.percentile(values, 50)), float(np.percentile(values, 95)), float(np.percentile(values, 99))


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    import faiss
    import onnxruntime

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    system = f"{platform.system()} {platform.release()}; Python {platform.python_version()}"
    return (
        f"- CPU: {cpu}, {os.cpu_count()} cores; {system}\n"
        f"- numpy {np.__version__}, faiss {faiss.__version__}, onnxruntime {onnxruntime.__version__}\n"
        f"- load average (1/5/15 min) at the start: {load}"
    )


def article_questions() -> list[str]:
    return [json.loads(line)["q"] for path in QUESTION_FILES for line in path.read_text().splitlines() if line.strip()]


def warm_latency(index_dir: Path, repeats: int) -> tuple[str, dict[str, float]]:
    from qa.answering.engine import Engine
    from qa.models.embed_onnx import OnnxEmbedder

    engine = Engine.open([ARTICLE], index_dir=index_dir)
    questions = article_questions()
    for q in questions[:10]:
        engine.ask(q)
    rows: dict[str, list[float]] = {"ask": [], "embed": [], "forward": [], "retrieval": []}
    embedder = engine.embedder
    onnx = embedder if isinstance(embedder, OnnxEmbedder) else None  # the forward alone: ONNX only
    for _ in range(repeats):
        for q in questions:
            rows["ask"].append(timed(partial(engine.ask, q, 5)))
            rows["embed"].append(timed(partial(embedder.encode, [q])))
            asked = engine.prepare([q])[0]  # checked, cut and embedded: what ``answer`` takes
            rows["retrieval"].append(timed(partial(engine.answer, asked, 5)))
            if onnx is not None:
                rows["forward"].append(timed(partial(onnx.forward, onnx.tokenize([q]))))
    torch_forward = torch_reference(questions, repeats)
    labels = {
        "ask": "`Engine.ask(question, k=5)` end to end",
        "embed": "question embedding (tokenize + forward)",
        "forward": f"model forward alone, {type(embedder).__name__} (the floor)",
        "retrieval": "retrieval after embedding (candidates, score, highlight)",
    }
    lines = ["| what | n | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    p50: dict[str, float] = {}
    for key, label in labels.items():
        if rows[key]:
            a, b, c = percentiles(rows[key])
            p50[key] = a
            lines.append(f"| {label} | {len(rows[key])} | {ms(a)} | {ms(b)} | {ms(c)} |")
    if torch_forward:
        a, b, c = percentiles(torch_forward)
        p50["torch"] = a
        lines.append(
            f"| model forward alone, PyTorch (reference) | {len(torch_forward)} | {ms(a)} | {ms(b)} | {ms(c)} |"
        )
    if "forward" in p50:
        lines.append(f"\np50 of `ask` / p50 of the forward pass: **{p50['ask'] / p50['forward']:.2f}×**")
    return "\n".join(lines), p50


def follow_up_latency(index_dir: Path, repeats: int) -> str:
    """A follow-up (warm: its earlier questions were asked before) against the same question alone."""
    from qa.answering.engine import Engine
    from qa.evaluate import read_questions

    engine = Engine.open([ARTICLE], index_dir=index_dir)
    turns = [
        q
        for name in ("dialogues-article-a", "dialogues-article-b")
        for q in read_questions(ROOT / "benchmarks" / "data" / f"{name}.questions.jsonl")
        if q.history
    ]
    for q in turns:  # warm: every earlier question has been asked (and embedded) once
        engine.ask(q.q, 5, history=q.history)
    alone: list[float] = []
    follow: list[float] = []
    for _ in range(repeats):
        for q in turns:
            alone.append(timed(partial(engine.ask, q.q, 5)))
            follow.append(timed(partial(engine.ask, q.q, 5, history=q.history)))
    lines = ["| what | n | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    for label, times in (("the question alone", alone), ("the same question with its history (warm)", follow)):
        a, b, c = percentiles(times)
        lines.append(f"| {label} | {len(times)} | {ms(a)} | {ms(b)} | {ms(c)} |")
    ratio = percentiles(follow)[0] / percentiles(alone)[0]
    lines.append(f"\np50 of a follow-up / p50 of the question alone: **{ratio:.2f}×** ({len(turns)} dialogue turns)")
    return "\n".join(lines)


TORCH_DRIVER = """
import json, sys, time, torch
from qa.models.embed_torch import SentenceTransformerEmbedder
st = SentenceTransformerEmbedder().model
questions, repeats, out = json.loads(sys.argv[1]), int(sys.argv[2]), []
with torch.inference_mode():
    for q in questions[:10]:
        st.forward(st.preprocess([q]))
    for _ in range(repeats):
        for q in questions:
            features = st.preprocess([q])
            began = time.perf_counter()
            st.forward(features)
            out.append(time.perf_counter() - began)
print(json.dumps(out))
"""


def torch_reference(questions: Sequence[str], repeats: int) -> list[float]:
    """PyTorch's forward for one question (what the ONNX export replaced), in its own process."""
    result = subprocess.run(
        [sys.executable, "-c", TORCH_DRIVER, json.dumps(list(questions)), str(repeats)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        log(f"no PyTorch reference: {result.stderr[-300:]}")
        return []
    return [float(x) for x in json.loads(result.stdout.strip().splitlines()[-1])]


def run_seconds(command: Sequence[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, timeout=900)
    return time.perf_counter() - began


def cold_start(index_dir: Path, repeats: int) -> str:
    env = os.environ | {"QA_INDEX_DIR": str(index_dir)}
    question = "What powertrains will the Zhijie X9 offer?"
    subprocess.run([*QA, "index", "--corpus", str(ARTICLE)], env=env, cwd=ROOT, check=True, capture_output=True)
    help_times = [run_seconds([*QA, "--help"], env) for _ in range(repeats)]
    ask_times = [
        run_seconds([*QA, "ask", question, "--corpus", str(ARTICLE), "--json"], env)
        for _ in range(max(3, repeats // 2))
    ]
    lines = ["| what | runs | median s | min s | max s |", "|---|---:|---:|---:|---:|"]
    for label, values in (
        ("`qa --help`", help_times),
        ("process start → first answer (`qa ask --json`, index built, model exported)", ask_times),
        ("`python app.py` → page served (index built, model exported)", [app_start(env)]),
    ):
        lines.append(
            f"| {label} | {len(values)} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |"
        )
    for module in HEAVY:
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        values = [
            float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(3)
        ]
        median = statistics.median(values)
        lines.append(f"| `import {module}` (alone) | 3 | {median:.2f} | {min(values):.2f} | {max(values):.2f} |")
    return "\n".join(lines)


def app_start(env: dict[str, str]) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--corpus", str(ARTICLE)],
        env=env | {"GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - began < 300:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - began
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the app did not start within 300 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def article_build(repeats: int) -> str:
    from qa.documents.corpus import load_corpus
    from qa.models.embedders import make_embedder
    from qa.retrieval.store import open_index

    corpus = load_corpus([ARTICLE])
    embedder = make_embedder()
    embedder.encode(["warm up"])
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:  # a new folder: nothing to reuse, all embedded
            began = time.perf_counter()
            stored = open_index(corpus, [ARTICLE], embedder, root=Path(folder))
            times.append(time.perf_counter() - began)
    passages = len(stored.index.passages)
    sentences = sum(len(p.sentences) for p in stored.index.passages)
    median = statistics.median(times)
    header = "| corpus | passages | sentences | runs | median s | min s | passages/s |\n" + "|---" + "|---:" * 6 + "|\n"
    return header + (
        f"| the article, model loaded | {passages} | {sentences} | {repeats} | {median:.2f} | {min(times):.2f} | "
        f"{passages / median:.0f} |"
    )


LARGE_DRIVER = """
import json, resource, sys, time
from pathlib import Path
from typing import Any
from qa.documents.corpus import load_corpus
from qa.models.embedders import make_embedder
from qa.retrieval.store import open_index
folder, root = Path(sys.argv[1]), Path(sys.argv[2])
began = time.perf_counter()
embedder = make_embedder()
loaded = time.perf_counter() - began
corpus = load_corpus([folder])
def progress(done, total):
    if done == total or done % 5120 == 0:
        print(f"perf: embedded {done}/{total} texts, {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
began = time.perf_counter()
stored = open_index(corpus, [folder], embedder, root=root, progress=progress)
seconds = time.perf_counter() - began
size = sum(f.stat().st_size for f in stored.folder.rglob("*") if f.is_file())
print(json.dumps({
    "documents": len(corpus.documents), "passages": len(stored.index.passages),
    "sentences": sum(len(p.sentences) for p in stored.index.passages), "seconds": seconds, "model_load": loaded,
    "exact": stored.index.dense.exact, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "index_mb": size / 1e6,
}))
"""


def large_build(target: int) -> str:
    from qa.documents.corpus import load_corpus
    from qa.documents.passages import split_documents

    sources = load_corpus(sorted((SHARED / "squad-dev").glob("*.txt"))).documents
    per_copy = len(split_documents(sources))
    copies = -(-target // per_copy)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        for i in range(copies):
            for doc in sources:
                # A copy number before every sentence end makes each passage and sentence unique.
                text = re.sub(r"([.!?])(\s|$)", rf" {i}\1\2", doc.text)
                (folder / f"{i:04d}-{doc.name}").write_text(text, encoding="utf-8")
        log(f"large corpus: {copies} copies of {len(sources)} SQuAD texts, about {copies * per_copy} passages")
        result = subprocess.run(
            [sys.executable, "-c", LARGE_DRIVER, str(folder), str(Path(tmp) / "index")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        sys.stderr.write(result.stderr[-2000:])
    r = json.loads(result.stdout.strip().splitlines()[-1])
    texts = r["passages"] + r["sentences"]
    return (
        "| corpus | documents | passages | sentences | build s | passages/s | texts embedded/s | FAISS | peak RSS MB "
        "| index MB |\n|---|---:|---:|---:|---:|---:|---:|---|---:|---:|\n"
        f"| SQuAD dev texts ×{copies}, unique sentences | {r['documents']} | {r['passages']} | {r['sentences']} | "
        f"{r['seconds']:.0f} | {r['passages'] / r['seconds']:.1f} | {texts / r['seconds']:.1f} | "
        f"{'exact' if r['exact'] else 'HNSW'} | {r['peak_rss_mb']:.0f} | {r['index_mb']:.0f} |\n\n"
        f"(model load in that process: {r['model_load']:.1f} s, not counted)"
    )


def embedding_throughput(count: int) -> str:
    """Texts per second of the embedder alone, on SQuAD passages and on their sentences."""
    from qa.documents.corpus import load_corpus
    from qa.documents.passages import split_documents
    from qa.models.embedders import make_embedder

    docs = load_corpus(sorted((SHARED / "squad-dev").glob("*.txt"))).documents
    texts = {d.name: d.text for d in docs}
    passages = split_documents(docs)
    passage_texts = [texts[p.doc][p.start : p.end] for p in passages][:count]
    sentence_texts = [texts[p.doc][s:e] for p in passages for s, e in p.sentences][:count]
    embedder = make_embedder()
    embedder.encode(passage_texts[:16])
    lines = ["| texts | n | mean chars | seconds | texts/s |", "|---|---:|---:|---:|---:|"]
    for label, items in (("SQuAD passages", passage_texts), ("SQuAD sentences", sentence_texts)):
        seconds = timed(partial(embedder.encode, items))
        mean = statistics.mean(len(t) for t in items)
        lines.append(f"| {label} | {len(items)} | {mean:.0f} | {seconds:.1f} | {len(items) / seconds:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.perf", description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each timed step (default 5)")
    parser.add_argument("--large-passages", type=int, default=50_000, help="size of the large build (default 50,000)")
    parser.add_argument("--skip-large", action="store_true", help="skip the large-corpus build")
    parser.add_argument("--only-latency", action="store_true", help="only the warm and follow-up latency tables")
    args = parser.parse_args(argv)
    print(f"`{shlex.join(['python', '-m', 'benchmarks.perf', *sys.argv[1:]])}`\n")
    print(machine() + "\n", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        models = Path(os.environ.get("QA_INDEX_DIR", ".qa-index")) / "models"
        if models.is_dir():  # reuse the exported model rather than exporting again
            shutil.copytree(models, index_dir / "models", ignore=shutil.ignore_patterns("*.lock"))
        log("warm latency")
        table, _ = warm_latency(index_dir, args.repeats)
        print("## Warm question latency (the article, k=5)\n\n" + table + "\n", flush=True)
        log("follow-up latency")
        print("## Follow-up questions (the article's dialogues, k=5)\n\n" + follow_up_latency(index_dir, args.repeats))
        if args.only_latency:
            return
        log("cold start")
        print("## Cold start\n\n" + cold_start(index_dir, args.repeats) + "\n", flush=True)
    log("article build")
    print("## Index build\n\n" + article_build(args.repeats) + "\n", flush=True)
    log("embedding throughput")
    print(embedding_throughput(400) + "\n", flush=True)
    if not args.skip_large:
        log("large build (this takes a while)")
        print(large_build(args.large_passages) + "\n", flush=True)
    print(f"Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
