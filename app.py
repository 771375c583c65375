"""Gradio front end (minimal until the app issue): ask a question, read the quoted passages."""

from __future__ import annotations

import gradio as gr

from qa.engine import Engine
from qa.render import text_answer

engine = Engine.open()


def answer(question: str) -> str:
    return text_answer(engine.ask(question))


with gr.Blocks(title="Ask the article") as demo:
    box = gr.Textbox(label="Question")
    out = gr.Textbox(label="Answer", lines=20)
    box.submit(answer, box, out)

if __name__ == "__main__":
    demo.launch(server_name="127.0.0.1", server_port=7860)
