"""The reader: its input format, a training smoke run, the shipped weights, and what a broken file does."""

from __future__ import annotations

import json
import shutil
from argparse import Namespace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.models.reader import (
    PARITY,
    READER_DIR,
    SETTINGS_FILE,
    WEIGHTS_FILE,
    OnnxReader,
    ReaderSettings,
    TorchReader,
    load_shipped,
    open_reader,
    probe_gap,
    reader_text,
    save_shipped,
)

SHIPPED = (READER_DIR / WEIGHTS_FILE).is_file()
needs_shipped = pytest.mark.skipif(not SHIPPED, reason="no shipped reader weights (run `make train-reader`)")

TEXT = "First one. Second one. Third one."
SPANS = [(0, 10), (11, 22), (23, 33)]


def test_reader_text_puts_the_sentence_first_and_its_neighbours_after() -> None:
    assert reader_text(TEXT, SPANS, 1, "sentence") == "Second one."
    assert reader_text(TEXT, SPANS, 1, "neighbours") == "Second one. [SEP] First one. Third one."
    assert reader_text(TEXT, SPANS, 0, "neighbours") == "First one. [SEP] Second one."
    assert reader_text(TEXT, SPANS[:1], 0, "neighbours") == "First one."
    assert reader_text(TEXT, SPANS, 2, "heading", "Results") == "Third one. [SEP] Results"
    assert reader_text(TEXT, SPANS, 2, "heading", None) == "Third one."


@pytest.fixture(scope="module")
def smoke_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reader trained for two steps on six pairs, shipped into a folder of its own."""
    from benchmarks.train_reader import train

    folder = tmp_path_factory.mktemp("reader")
    settings = ReaderSettings("sentence-transformers/all-MiniLM-L6-v2", (5,), 32, "sentence", "float16", "")
    pairs = [
        ("When was the club founded?", "The club was founded in 1899.", 1),
        ("When was the club founded?", "The stadium holds 40,000 people.", 0),
        ("When was the club founded?", "Its colours are red and white.", 0),
        ("Who designed the bridge?", "The bridge was designed by Gustave Eiffel.", 1),
        ("Who designed the bridge?", "The river floods every spring.", 0),
        ("Who designed the bridge?", "Tolls were abolished in 1950.", 0),
    ]
    args = Namespace(threads=2, seed=0, epochs=1.0, batch=3, lr=1e-4, checkpoints=0)
    encoder = train([(q, t) for q, t, _ in pairs], [y for *_, y in pairs], settings, folder / "run", args)
    save_shipped(encoder[0].model, folder / "shipped", settings)
    return folder / "shipped"


@pytest.mark.model
def test_a_smoke_training_run_ships_only_the_trained_tensors(smoke_folder: Path) -> None:
    settings, tensors = load_shipped(smoke_folder)
    assert settings.trainable_layers == (5,) and len(settings.sha256) == 64
    assert all(name.startswith(("bert.encoder.layer.5.", "bert.pooler.", "classifier.")) for name in tensors)
    assert {t.dtype for t in tensors.values()} == {np.dtype("float16")}
    logits = TorchReader(smoke_folder).score("When was the club founded?", ["The club was founded in 1899.", "x"])
    assert logits.shape == (2,) and logits.dtype == np.float32 and np.isfinite(logits).all()


@pytest.mark.model
def test_int8_deltas_from_the_base_model_give_the_same_logits_in_half_the_bytes(
    smoke_folder: Path, tmp_path: Path
) -> None:
    import dataclasses

    from safetensors.numpy import load_file

    from qa.models.reader import DELTA_DTYPE, compose

    settings, encoder = compose(smoke_folder)
    delta = save_shipped(encoder[0].model, tmp_path / "delta", dataclasses.replace(settings, dtype=DELTA_DTYPE))
    raw = load_file(str(tmp_path / "delta" / WEIGHTS_FILE))
    assert raw["bert.encoder.layer.5.intermediate.dense.weight"].dtype == np.int8
    assert raw["bert.encoder.layer.5.intermediate.dense.weight.scale"].shape == (1536,)
    assert raw["classifier.weight"].dtype == np.float16  # not in the base model: stored whole
    assert (tmp_path / "delta" / WEIGHTS_FILE).stat().st_size < 0.6 * (smoke_folder / WEIGHTS_FILE).stat().st_size
    loaded, tensors = load_shipped(tmp_path / "delta")
    assert loaded == delta and {t.dtype for t in tensors.values()} <= {np.dtype("float32"), np.dtype("float16")}
    question, texts = "When was the club founded?", ["The club was founded in 1899.", "Its colours are red."]
    gap = np.abs(
        TorchReader(smoke_folder).score(question, texts) - TorchReader(tmp_path / "delta").score(question, texts)
    )
    assert float(gap.max()) < 0.01


@pytest.mark.model
def test_missing_weights_give_one_notice_and_no_reader(tmp_path: Path) -> None:
    notices: list[str] = []
    assert open_reader(tmp_path / "models", notices.append, folder=tmp_path / "nothing") is None
    assert len(notices) == 1 and "missing" in notices[0] and "without the reader" in notices[0]


@pytest.mark.model
def test_damaged_weights_give_one_notice_and_no_reader(smoke_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "damaged"
    shutil.copytree(smoke_folder, folder)
    data = bytearray((folder / WEIGHTS_FILE).read_bytes())
    data[-10] ^= 0xFF
    (folder / WEIGHTS_FILE).write_bytes(bytes(data))
    notices: list[str] = []
    assert open_reader(tmp_path / "models", notices.append, folder=folder) is None
    assert len(notices) == 1 and "damaged" in notices[0]


@pytest.mark.model
def test_weights_of_the_wrong_shape_give_one_notice_and_no_reader(smoke_folder: Path, tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    folder = tmp_path / "wrong"
    shutil.copytree(smoke_folder, folder)
    _, tensors = load_shipped(smoke_folder)
    tensors["classifier.weight"] = np.zeros((1, 7), dtype=np.float16)
    save_file(tensors, str(folder / WEIGHTS_FILE))
    _rehash(folder)
    notices: list[str] = []
    assert open_reader(tmp_path / "models", notices.append, folder=folder) is None
    assert len(notices) == 1 and "classifier.weight" in notices[0] and "(1, 384)" in notices[0]


def _rehash(folder: Path) -> None:
    import hashlib

    raw: dict[str, Any] = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    raw["sha256"] = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()
    (folder / SETTINGS_FILE).write_text(json.dumps(raw), encoding="utf-8")


@pytest.fixture(scope="module")
def reader_folder(smoke_folder: Path) -> Path:
    """The shipped weights when there are any, else the smoke run's: the loading path is the same."""
    return READER_DIR if SHIPPED else smoke_folder


@pytest.fixture(scope="module")
def shipped_onnx(tmp_path_factory: pytest.TempPathFactory, reader_folder: Path) -> OnnxReader:
    notices: list[str] = []
    models = tmp_path_factory.mktemp("models")
    reader = open_reader(models, notices.append, backend="onnx", precision="fp32", folder=reader_folder)
    assert isinstance(reader, OnnxReader) and not notices
    return reader


@pytest.mark.model
@needs_shipped
def test_the_shipped_reader_scores_an_answer_above_a_sentence_that_does_not_answer(shipped_onnx: OnnxReader) -> None:
    cases = [
        (
            "What did GAC Group launch together with Huawei Qiankun?",
            'Recently, GAC Group and Huawei Qiankun jointly launched a brand named "Qijing."',
            "The weather in Shenzhen was mild and sunny for most of the week.",
        ),
        (
            "In what year was the university founded?",
            "The university was founded in 1890 by the American Baptist Education Society.",
            "The campus library holds more than eleven million volumes.",
        ),
    ]
    for question, answer, other in cases:
        good, bad = shipped_onnx.score(question, [answer, other])
        assert good > bad, (question, good, bad)


@pytest.mark.model
def test_the_onnx_reader_agrees_with_pytorch_on_the_probes(shipped_onnx: OnnxReader, reader_folder: Path) -> None:
    assert probe_gap(shipped_onnx, TorchReader(reader_folder)) <= PARITY


@pytest.mark.model
def test_scores_do_not_depend_on_the_batch(shipped_onnx: OnnxReader) -> None:
    question = "What did GAC Group launch together with Huawei Qiankun?"
    texts = ["GAC Group launched a brand.", "x", "A much longer sentence about cars, brands and plans " * 3]
    together = shipped_onnx.score(question, texts)
    alone = np.array([shipped_onnx.score(question, [t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-4)
    assert shipped_onnx.score(question, []).shape == (0,)


@pytest.mark.model
def test_int8_is_used_only_where_it_agrees_with_fp32(tmp_path: Path, reader_folder: Path) -> None:
    notices: list[str] = []
    reader = open_reader(tmp_path / "models", notices.append, backend="onnx", precision="int8", folder=reader_folder)
    assert isinstance(reader, OnnxReader)
    if notices:  # the shipped reader's int8 graph fails its parity gate (docs/reader.md): fp32 instead
        assert len(notices) == 1 and "int8" in notices[0] and "fp32 reader instead" in notices[0]
        assert reader.precision == "fp32"
    else:
        assert reader.precision == "int8"
