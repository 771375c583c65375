"""Train the reader (``make train-reader``): a cross-encoder from the bundled all-MiniLM-L6-v2 on
(question, sentence) pairs of ``../shared/train/squad2-extra``, with sentence-transformers' trainer.

    python -m benchmarks.train_reader --ship            # the shipped weights (docs/reader.md)
    python -m benchmarks.train_reader --fraction 0.25 --out /tmp/reader-small

Pairs come from our own passages and retrieval (``benchmarks/reader_data.py``): an answer's sentence
is positive; other sentences of its paragraph, the highlights of the engine's top candidates outside
it, and the sentences of an unanswerable question's own paragraph are negative. The embeddings (and
any layer below ``--top-layers``) are frozen, so only the transformer layers, the pooler and the head
change, and only those ship (``qa/models/weights/``, each layer matrix as its int8 difference from the
base model's). Seeded, CPU, two threads, a progress bar; checkpoints at even fractions of the run give
the learning curve (``eval_reader.py --model``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT
from benchmarks.reader_data import TRAIN, Pair, View, folder_rows, pair_table, training_pairs
from qa.models.reader import CONTEXTS, READER_DIR, ReaderSettings, base_cross_encoder, freeze_lower, save_shipped

WORK = Path(os.environ.get("QA_READER_WORK", "/tmp/reader-work"))
BASE_LAYERS = 6


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_reader", description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, default=TRAIN, help="training folder (default: %(default)s)")
    parser.add_argument("--context", choices=CONTEXTS, default="sentence", help="what the reader sees")
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the training questions used")
    parser.add_argument("--max-pairs", type=int, default=0, help="at most this many pairs (0: all)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--top-layers", type=int, default=6, help="transformer layers trained (the top ones; 6: all)")
    parser.add_argument("--checkpoints", type=int, default=4, help="checkpoints at even fractions of the run")
    parser.add_argument(
        "--dtype",
        choices=("int8-delta", "float16"),
        default="int8-delta",
        help="how the shipped tensors are stored (int8-delta: layer matrices as int8 differences from the base)",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: under $QA_READER_WORK)")
    parser.add_argument("--ship", action="store_true", help=f"write the trained tensors into {READER_DIR}")
    args = parser.parse_args(argv)

    pairs = load_pairs(args.train, args.seed)
    chosen = select(pairs, args.fraction, args.max_pairs, args.seed)
    name = f"{args.context}-f{args.fraction:g}-n{len(chosen)}-top{args.top_layers}-s{args.seed}"
    out = args.out or WORK / "runs" / name
    print(f"{len(chosen)} pairs of {len({p.qid for p in chosen})} questions: {pair_table(chosen)}", flush=True)
    view = train_view(args.train)
    texts = [(p.q, view.text(p.unit, args.context)) for p in chosen]
    reader = ReaderSettings(
        base_model="sentence-transformers/all-MiniLM-L6-v2",
        trainable_layers=tuple(range(BASE_LAYERS - args.top_layers, BASE_LAYERS)),
        max_length=args.max_length,
        context=args.context,
        dtype=args.dtype,
        sha256="",
        training={
            "command": "python -m benchmarks.train_reader " + " ".join(argv if argv is not None else sys.argv[1:]),
            "pairs": len(chosen),
            "questions": len({p.qid for p in chosen}),
            "kinds": pair_table(chosen),
            "epochs": args.epochs,
            "lr": args.lr,
            "batch": args.batch,
            "seed": args.seed,
            "fraction": args.fraction,
            "data_sha256": data_hashes(args.train),
        },
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "reader_settings.json").write_text(json.dumps(reader.to_json(), indent=1), encoding="utf-8")
    began = time.perf_counter()
    encoder = train(texts, [p.label for p in chosen], reader, out, args)
    seconds = time.perf_counter() - began
    encoder.save_pretrained(str(out / "final"))
    (out / "final" / "reader_settings.json").write_text(json.dumps(reader.to_json(), indent=1), encoding="utf-8")
    print(f"trained in {seconds / 60:.1f} min; saved {out / 'final'}", flush=True)
    if args.ship:
        shipped = save_shipped(encoder[0].model, READER_DIR, reader)
        size = (READER_DIR / "reader.safetensors").stat().st_size
        print(f"shipped {READER_DIR} ({size / 1e6:.2f} MB, sha256 {shipped.sha256[:12]})", flush=True)


def train(texts: Sequence[tuple[str, str]], labels: Sequence[int], reader: ReaderSettings, out: Path, args: Any) -> Any:
    """Train a ``CrossEncoder`` on the pairs with ``BinaryCrossEntropyLoss``; returns it.

    The positives are weighted by negatives / positives (``pos_weight``), so that each class weighs as
    much as the other in the loss: trained on the natural balance a probe learned only the prior.
    """
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import set_seed

    torch.set_num_threads(args.threads)
    set_seed(args.seed)
    random.seed(args.seed)
    encoder = base_cross_encoder(reader.max_length)
    open_pooler(encoder[0].model)
    trainable, total = freeze_lower(encoder[0].model, reader.trainable_layers)
    print(f"training {trainable:,} of {total:,} parameters (layers {list(reader.trainable_layers)}, pooler, head)")
    positives = sum(labels)
    negatives = len(labels) - positives
    pos_weight = torch.tensor(negatives / max(positives, 1))
    dataset = Dataset.from_dict(
        {"question": [q for q, _ in texts], "text": [t for _, t in texts], "label": [float(y) for y in labels]}
    )
    steps = max(1, int(len(texts) * args.epochs / args.batch))
    save_steps = max(1, steps // args.checkpoints) if args.checkpoints else steps
    training = CrossEncoderTrainingArguments(
        output_dir=str(out),
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch,
        learning_rate=args.lr,
        lr_scheduler_type="constant_with_warmup",  # a checkpoint at 25 % is then a model trained on 25 %
        warmup_steps=0.1,
        weight_decay=0.01,
        seed=args.seed,
        data_seed=args.seed,
        use_cpu=True,
        save_strategy="steps" if args.checkpoints else "no",
        save_steps=save_steps,
        save_only_model=True,
        logging_steps=max(1, min(25, steps // 4)),
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    trainer = CrossEncoderTrainer(
        model=encoder,
        args=training,
        train_dataset=dataset,
        loss=BinaryCrossEntropyLoss(encoder, pos_weight=pos_weight),
    )
    trainer.train()
    encoder.eval()
    return encoder


def open_pooler(model: Any) -> None:
    """Start the [CLS] pooler at the identity. all-MiniLM-L6-v2 was trained with mean pooling and its
    pooler never was (weights of std 0.009, bias 0): its output is near zero and so is every gradient
    through it; trained from it, the loss stayed at chance for 188 steps (docs/reader.md)."""
    import torch

    with torch.no_grad():
        dense = model.bert.pooler.dense
        dense.weight.copy_(torch.eye(dense.weight.shape[0], dtype=dense.weight.dtype))
        dense.bias.zero_()


def train_view(folder: Path) -> View:
    """The engine over the training articles (its index under $QA_READER_WORK)."""
    from qa.answering.engine import Engine

    return View(Engine.open([folder], index_dir=WORK / "index-train"))


def load_pairs(folder: Path, seed: int) -> list[Pair]:
    """The training pairs of ``folder``, built once and kept under $QA_READER_WORK (keyed by the data)."""
    key = hashlib.sha256(json.dumps([data_hashes(folder), seed, _code_hash()]).encode()).hexdigest()[:12]
    cache = WORK / f"pairs-{key}.json"
    if cache.is_file():
        return [Pair.from_json(r) for r in json.loads(cache.read_text(encoding="utf-8"))]
    view = train_view(folder)
    seen = view.see(folder_rows(folder), hits=5)
    pairs = training_pairs(view, seen, seed)
    WORK.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps([p.to_json() for p in pairs]), encoding="utf-8")
    return pairs


def select(pairs: Sequence[Pair], fraction: float, max_pairs: int, seed: int) -> list[Pair]:
    """The pairs of a seeded ``fraction`` of the questions (the same questions for a larger fraction
    plus more), at most ``max_pairs`` of them (whole questions)."""
    questions = sorted({p.qid for p in pairs})
    random.Random(seed).shuffle(questions)
    keep = questions[: round(len(questions) * fraction)]
    if max_pairs:
        per_question: dict[str, int] = {}
        for p in pairs:
            per_question[p.qid] = per_question.get(p.qid, 0) + 1
        total, limited = 0, []
        for q in keep:
            if total + per_question.get(q, 0) > max_pairs:
                break
            total += per_question.get(q, 0)
            limited.append(q)
        keep = limited
    chosen = set(keep)
    return [p for p in pairs if p.qid in chosen]


def data_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every training file, by name."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _code_hash() -> str:
    return hashlib.sha256((ROOT / "benchmarks" / "reader_data.py").read_bytes()).hexdigest()[:12]


if __name__ == "__main__":
    main()
