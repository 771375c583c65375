"""The ONNX Runtime backend: the same sentence-transformers model, a forward pass about 3× faster than
PyTorch's on this CPU (4.96 against 16.63 ms a question, docs/performance.md), and no PyTorch import at
run time (which takes seconds).

The model is exported once with PyTorch into a cache folder (``<index root>/models/``), checked against
PyTorch's own output on probe texts, and written atomically; later runs load only ``tokenizers`` and
``onnxruntime``. Vectors agree with PyTorch's to a cosine of at least ``PARITY`` (measured: 1.0000), so
an index built by either backend serves the other, and the model name in the manifest is the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..storage import staged, write_atomic
from .embed import BatchedEmbedder, resolve_model
from .embed_torch import SentenceTransformerEmbedder

EXPORT_VERSION = 1
PARITY = 0.9999
INT8_PARITY = 0.98  # the int8 model's vectors: cosine with fp32's, per probe text, at least this
MODEL_FILES = {"fp32": "model.onnx", "int8": "model-int8.onnx"}
PROBES = (
    "What did GAC Group launch together with Huawei Qiankun?",
    'Recently, GAC Group and Huawei Qiankun jointly launched a brand named "Qijing."',
    "x",
    "Ein kurzer Satz auf Deutsch, mit Umlauten: äöü, 1,649 Einheiten und 7.8%.",
    "long " * 400,
)


class OnnxExportError(ModelError):
    """The model could not be exported to ONNX, or its ONNX output differs from PyTorch's."""


class OnnxEmbedder(BatchedEmbedder):
    """Unit vectors from an exported ONNX graph (pooling and normalisation included)."""

    # Texts per forward pass. Small batches pad less and keep activations in cache: on this 2-core CPU,
    # batches of 4 embedded SQuAD passages at 51.7/s, against 43/s with 32 (docs/performance.md).
    batch_size = 4

    def __init__(self, folder: Path, precision: str = "fp32") -> None:
        from tokenizers import Tokenizer

        meta = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        self.precision = precision
        # An int8 model gives (slightly) other vectors: its indexes are its own, under its own name.
        self._name = str(meta["name"]) + ("" if precision == "fp32" else f" [{precision}]")
        self._dimension = int(meta["dimension"])
        self._max_seq_length = int(meta["max_seq_length"])
        self._inputs = list(meta["input_names"])
        raw = Tokenizer.from_file(str(folder / "tokenizer.json"))
        raw.no_truncation()
        raw.no_padding()
        self._raw = raw
        batch = Tokenizer.from_file(str(folder / "tokenizer.json"))
        batch.enable_truncation(max_length=self._max_seq_length)
        batch.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        self._tokenizer = batch
        self._session = cpu_session(folder / MODEL_FILES[precision])

    @classmethod
    def open(cls, model: str | None, cache_dir: Path, precision: str = "fp32") -> OnnxEmbedder:
        """The ONNX embedder of ``model``, exported (and quantised, for int8) into ``cache_dir`` if needed."""
        name, source = resolve_model(model)
        folder = cache_dir / _cache_key(name, source)
        try:
            export_once(folder, precision, lambda: export(model, folder), lambda: quantize(folder))
        except OSError as exc:
            raise OnnxExportError(
                f"cannot write the exported model to {cache_dir} ({exc.strerror or exc}); "
                "point QA_INDEX_DIR at a writable folder"
            ) from None
        try:
            return cls(folder, precision)
        except Exception as exc:  # a damaged cache: remove it, so that the next start exports it again
            shutil.rmtree(folder, ignore_errors=True)
            raise OnnxExportError(
                f"the exported model in {folder} could not be loaded ({exc}); it was removed"
            ) from None

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.forward(self.tokenize(texts))

    def tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The model's inputs for ``texts`` (one padded batch), as ``forward`` takes them."""
        encodings = self._tokenizer.encode_batch(list(texts))
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}

    def forward(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The model's forward pass alone: unit vectors of a tokenised batch."""
        (vectors,) = self._session.run(["embedding"], inputs)
        return np.asarray(vectors, dtype=np.float32)

    def _token_ends(self, text: str) -> Sequence[int]:
        return [end for _, end in self._raw.encode(text, add_special_tokens=False).offsets]


def export_once(folder: Path, precision: str, export: Callable[[], None], quantize: Callable[[], None]) -> None:
    """Make sure ``folder`` holds the export (``export.json``) and, for int8, its quantised copy
    (``int8.json``): made once, under a file lock, by whichever process comes first. ``OSError`` when
    the cache cannot be written."""
    done = folder / ("export.json" if precision == "fp32" else "int8.json")
    if done.is_file():
        return
    from filelock import FileLock

    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not (folder / "export.json").is_file():
            export()
        if not done.is_file():
            quantize()


def cpu_session(graph: Path) -> Any:
    """An ONNX Runtime session of ``graph`` on the CPU: every core for one forward pass, full graph
    optimisation, warnings only (the embedder's and the reader's)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # no busy-waiting between runs: the embedder's and the reader's sessions run one after the other in
    # each question, and threads left spinning by one took the cores from the other
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def _cache_key(name: str, source: str) -> str:
    """A folder name that changes when the model's files, the export code or the runtime change."""
    import onnxruntime

    files: list[tuple[str, int, int]] = []
    path = Path(source)
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.is_file():
                stat = file.stat()
                files.append((file.relative_to(path).as_posix(), stat.st_size, stat.st_mtime_ns))
    fingerprint = json.dumps([name, source, files, EXPORT_VERSION, onnxruntime.__version__])
    slug = "".join(c if c.isalnum() else "-" for c in name.split("/")[-1])[:40]
    return f"{slug}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}"


def export(model: str | None, folder: Path) -> None:
    """Export ``model`` with PyTorch into ``folder`` (atomically), after checking parity on probe texts."""
    torch_embedder = SentenceTransformerEmbedder(model)
    st: Any = torch_embedder.model
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The remains of an export that was cut short are replaced; a crash leaves only a *.tmp folder.
        with staged(folder, replace=True) as staging:
            staging.mkdir()
            _export_into(staging, torch_embedder, st)
    except OnnxExportError:
        raise
    except Exception as exc:  # torch's exporter raises many kinds
        raise OnnxExportError(
            f"could not export {torch_embedder.name!r} to ONNX ({type(exc).__name__}: {exc})"
        ) from None


def _export_into(staging: Path, torch_embedder: SentenceTransformerEmbedder, st: Any) -> None:
    """The export's files in ``staging``, checked against PyTorch on probe texts."""
    input_names = _export_graph(st, staging / "model.onnx")
    tokenizer = st.tokenizer.backend_tokenizer
    (staging / "tokenizer.json").write_text(tokenizer.to_str(), encoding="utf-8")
    meta = {
        "name": torch_embedder.name,
        "dimension": torch_embedder.dimension,
        "max_seq_length": int(st.max_seq_length),
        "input_names": input_names,
        "pad_id": int(st.tokenizer.pad_token_id or 0),
        "pad_token": str(st.tokenizer.pad_token or "[PAD]"),
        "export_version": EXPORT_VERSION,
    }
    (staging / "export.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    onnx_embedder = OnnxEmbedder(staging)
    agreement = float(np.min(np.sum(onnx_embedder.encode(PROBES) * torch_embedder.encode(PROBES), axis=1)))
    if agreement < PARITY:
        raise OnnxExportError(
            f"the ONNX export of {torch_embedder.name!r} differs from PyTorch (cosine {agreement:.5f})"
        )


def quantize(folder: Path) -> None:
    """Write ``model-int8.onnx`` beside the fp32 export: weights of the matrix products in int8, one scale
    per output channel (activations quantised as they come); checked against fp32 on probe texts.

    Measured on 600 SQuAD passages and sentences: cosine with fp32 at least 0.986 (mean 0.994), 1.6×
    the passages per second; per-tensor scales instead gave cosines down to 0.85.
    """
    try:
        quantize_onnx_graph(folder / MODEL_FILES["fp32"], folder / MODEL_FILES["int8"])
        fp32, int8 = OnnxEmbedder(folder, "fp32"), OnnxEmbedder(folder, "int8")
        agreement = float(np.min(np.sum(fp32.encode(PROBES) * int8.encode(PROBES), axis=1)))
    except OnnxExportError:
        raise
    except Exception as exc:  # the quantiser raises many kinds
        raise OnnxExportError(f"could not quantise {folder.name} to int8 ({type(exc).__name__}: {exc})") from None
    if agreement < INT8_PARITY:
        raise OnnxExportError(f"the int8 model differs from fp32 (cosine {agreement:.4f} < {INT8_PARITY})")
    write_atomic(folder / "int8.json", json.dumps({"parity": agreement}, indent=1))


def _export_graph(st: Any, path: Path) -> list[str]:
    """Trace tokens → normalised sentence embedding into an ONNX file; returns the graph's input names."""
    import torch

    input_names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in st.tokenizer.model_input_names]

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = st

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            features = dict(zip(input_names, inputs, strict=True))
            embedding = self.model(features)["sentence_embedding"]
            return torch.nn.functional.normalize(embedding, p=2, dim=1)

    sample = st.tokenizer(["a probe", "a second, longer probe text"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in input_names} | {"embedding": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Graph().eval(),
            tuple(sample[n] for n in input_names),
            str(path),
            input_names=input_names,
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return input_names


def onnx_cache_key(slug: str, parts: object) -> str:
    """A cache folder name for another exported model (the reader): ``slug`` and a hash of ``parts``
    (what the export depends on) and of the export code and runtime versions."""
    import onnxruntime

    fingerprint = json.dumps([slug, parts, EXPORT_VERSION, onnxruntime.__version__], sort_keys=True, default=str)
    return f"{slug}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}"


def export_onnx_graph(
    forward: Any, module: Any, sample: tuple[Any, ...], input_names: list[str], output_name: str, path: Path
) -> None:
    """Trace ``forward(*inputs)`` (the computation of the torch ``module``) into an ONNX file at ``path``,
    with the batch and token axes dynamic; the same settings as the embedder's export."""
    import torch

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = module

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return forward(*inputs)  # type: ignore[no-any-return]

    axes = {name: {0: "batch", 1: "tokens"} for name in input_names} | {output_name: {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Graph().eval(),
            sample,
            str(path),
            input_names=input_names,
            output_names=[output_name],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def quantize_onnx_graph(source: Path, target: Path) -> None:
    """Write an int8 copy of the ONNX graph ``source`` at ``target`` (atomically), as ``quantize`` does:
    matrix-product weights in int8 with one scale per output channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with staged(target, replace=True) as staging, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(
            str(source),
            str(staging),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"MatMulConstBOnly": True},
        )
