"""Gradio alone: an ``/ask`` endpoint served like the app's, answering a fixed, same-sized result.

    .venv/bin/python benchmarks/load.py --app benchmarks/trivial_app.py

Measures the ceiling that Gradio's own per-request work puts on the real app on this machine: no
model, no index, the same route (``queue=False``) and a JSON answer of the same shape and size.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

TEXT = (Path(__file__).resolve().parent.parent / "corpus" / "harmonyos-smart-mobility.txt").read_text(encoding="utf-8")


def answer(question: str, k: int = 5) -> dict[str, Any]:
    """A fixed answer with ``k`` passages of the article, shaped like the real one."""
    passages = []
    for rank in range(1, max(1, min(int(k), 10)) + 1):
        start = 2000 + 400 * rank
        passages.append(
            {
                "rank": rank,
                "score": 1.5,
                "doc": "harmonyos-smart-mobility.txt",
                "start": start,
                "end": start + 380,
                "text": TEXT[start : start + 380],
                "section": "01 Huawei's Entry into the Automotive Industry: No Longer a Lifesaver",
                "paragraph": rank,
                "line": rank,
                "highlight": {"start": start, "end": start + 120, "text": TEXT[start : start + 120]},
            }
        )
    return {"question": question, "answered": True, "passages": passages}


with gr.Blocks() as demo:
    gr.api(answer, api_name="ask", queue=False)  # type: ignore[attr-defined]

if __name__ == "__main__":
    demo.launch(ssr_mode=False)
