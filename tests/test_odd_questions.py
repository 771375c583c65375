"""Odd questions: huge, control characters, emoji, right-to-left, markup, not UTF-8, anything at all.

Each gets an answer within the JSON contract or the documented one-line error, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.answering.engine import Engine
from qa.errors import QuestionError
from tests.helpers import (
    ARTICLE,
    MARK,
    Driver,
    assert_clean_exit,
    assert_one_line_error,
    check_answer,
    driver_env,
    json_lines,
    write_docs,
)

ARTICLE_TEXT = ARTICLE.read_text(encoding="utf-8")
GOOD_DOC = "Good title\nGAC Group and Huawei launched the Qijing brand. It sells cars.\n"


# --- 5. odd questions ------------------------------------------------------------------------------

ODD_QUESTIONS = {
    "100k-chars": "What did GAC Group launch with Huawei? " * 2564,  # 99,996: just within the limit
    "control-chars": "\x00\x07\x1b[31mWho launched Qijing?\x1b[0m\x08\x7f",
    "emoji": "🚗🔋 Who launched Qijing? 🤔👍🏽",
    "arabic": "من أطلق علامة Qijing التجارية؟",
    "hebrew": "מי השיק את Qijing?",
    "html-js": "<script>alert('x')</script><img src=x onerror=alert(1)> Qijing & <b>GAC</b>",
    "punctuation-only": "?!?...",
    "zero-width": "\u200b\u200d\ufeff",
    "cjk": "谁推出了启境品牌？",
    "combining": "Q\u0301i\u0308jing?",
}
EMPTY_QUESTIONS = {"empty": "", "blank": " \t\r\n\u3000\u2028"}


@pytest.mark.parametrize("name", list(ODD_QUESTIONS))
def test_engine_answers_odd_questions_within_the_contract(fake_engine: Engine, name: str) -> None:
    question = ODD_QUESTIONS[name]
    answer = fake_engine.ask(question, k=3)
    obj = json.loads(json.dumps(answer.to_json(), ensure_ascii=False))
    texts = {d.name: d.text for d in fake_engine.documents}
    check_answer(obj, texts, 3, question)
    assert answer.truncated == (name == "100k-chars")


def test_a_question_over_the_limit_is_refused_by_the_engine_and_the_cli(
    fake_engine: Engine, qa_cli: Callable[..., Result], article_dir: Path
) -> None:
    """The limit is the engine's, so the CLI, the app's /ask and its chat all apply it."""
    over = "x" * 100_001
    with pytest.raises(QuestionError, match="the question is 100,001 characters long; ask in at most 100,000"):
        fake_engine.ask(over)
    with pytest.raises(QuestionError, match="an earlier question of the conversation is 100,001 characters"):
        fake_engine.ask("And then?", history=[over])
    assert_one_line_error(qa_cli("ask", over, "--corpus", article_dir, "--json"), "at most 100,000")


@pytest.mark.parametrize("name", list(EMPTY_QUESTIONS))
def test_engine_refuses_empty_questions(fake_engine: Engine, name: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        fake_engine.ask(EMPTY_QUESTIONS[name])


@pytest.mark.parametrize("name", list(ODD_QUESTIONS))
def test_cli_answers_odd_questions_as_one_json_line(
    qa_cli: Callable[..., Result], article_dir: Path, article_text: str, name: str
) -> None:
    question = ODD_QUESTIONS[name]
    result = qa_cli("ask", question, "--corpus", article_dir, "--json", "-k", "2")
    assert_clean_exit(result)
    assert result.exit_code == 0, result.stderr
    lines = json_lines(result.stdout)
    assert len(lines) == 1  # control characters are escaped, never printed raw
    check_answer(json.loads(lines[0]), {ARTICLE.name: article_text}, 2, question)


@pytest.mark.parametrize("name", list(EMPTY_QUESTIONS))
def test_cli_refuses_empty_questions_with_one_line(qa_cli: Callable[..., Result], article_dir: Path, name: str) -> None:
    assert_one_line_error(qa_cli("ask", EMPTY_QUESTIONS[name], "--corpus", article_dir, "--json"), "empty")


def test_cli_human_output_of_odd_questions_does_not_crash(qa_cli: Callable[..., Result], article_dir: Path) -> None:
    for question in ODD_QUESTIONS.values():
        result = qa_cli("ask", question, "--corpus", article_dir, "-k", "1")
        assert_clean_exit(result)
        assert result.exit_code == 0 and result.stdout.startswith("Q: ")


def test_a_question_starting_with_a_dash_is_asked_after_double_dash(
    qa_cli: Callable[..., Result], article_dir: Path, article_text: str
) -> None:
    result = qa_cli("ask", "--corpus", article_dir, "--json", "-k", "1", "--", "-5 °C: did Qijing launch?")
    assert_clean_exit(result)
    assert result.exit_code == 0
    check_answer(json.loads(result.stdout), {ARTICLE.name: article_text}, 1, "-5 °C: did Qijing launch?")


def test_questions_file_with_odd_questions_answers_each_in_order(
    qa_cli: Callable[..., Result], article_dir: Path, article_text: str, tmp_path: Path
) -> None:
    questions = [q for q in ODD_QUESTIONS.values()]
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(json.dumps({"q": q}, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    result = qa_cli("ask", "--questions", path, "--corpus", article_dir, "--json", "-k", "2")
    assert_clean_exit(result)
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in json_lines(result.stdout)]
    assert [r["question"] for r in rows] == questions
    for row, question in zip(rows, questions, strict=True):
        check_answer(row, {ARTICLE.name: article_text}, 2, question)


@pytest.mark.parametrize("as_json", [True, False], ids=["jsonl", "plain"])
def test_questions_file_keeps_unicode_line_separators_inside_a_question(
    qa_cli: Callable[..., Result], article_dir: Path, tmp_path: Path, as_json: bool
) -> None:
    """``qa ask --json`` itself writes U+2028 raw (ensure_ascii=False); a file of such lines must read back."""
    questions = ["Who launched\u2028Qijing?", "Next\x85line Huawei?", "Form\x0cfeed Huawei?", "Who is Yu?"]
    path = tmp_path / "seps.jsonl"
    lines = [json.dumps({"q": q}, ensure_ascii=False) if as_json else q for q in questions]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = qa_cli("ask", "--questions", path, "--corpus", article_dir, "--json", "-k", "1")
    assert_clean_exit(result)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["question"] for line in json_lines(result.stdout)] == questions


def test_cli_question_with_bytes_that_are_not_utf8_is_valid_json_or_one_line_error(tmp_path: Path) -> None:
    """On Linux argv is bytes; ``qa ask $'caf\\xe9'`` reaches Python as a lone surrogate (surrogateescape)."""
    corpus = write_docs(tmp_path / "corpus", {"good.txt": GOOD_DOC})
    env = driver_env(QA_INDEX_DIR=str(tmp_path / "index"), PYTHONIOENCODING="utf-8")
    run = Driver("qa", "--", "ask", b"Who launched Qijing caf\xe9 \xff?", "--corpus", corpus, "--json", env=env)
    code = run.finish()
    assert "Traceback" not in run.stderr, run.stderr[-1500:]
    if code == 2:
        assert len(run.stderr.strip().splitlines()) == 1 and run.stderr.startswith("qa: error: ")
        return
    assert code == 0
    out = b"".join(line for line in run.out if not line.startswith(MARK.encode()))
    obj = json.loads(out.decode("utf-8"))  # RFC 8259: JSON text exchanged between programs is UTF-8
    check_answer(obj, {"good.txt": GOOD_DOC}, 5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(max_size=120), k=st.integers(min_value=-1, max_value=6))
def test_cli_any_question_gives_json_or_the_one_line_error(
    qa_cli: Callable[..., Result], article_dir: Path, question: str, k: int
) -> None:
    result = qa_cli("ask", "--corpus", article_dir, "--json", "-k", str(k), "--", question)
    assert_clean_exit(result)
    if not question.strip() or k < 1:
        assert_one_line_error(result, "empty" if k >= 1 else "k must be")
        return
    assert result.exit_code == 0, result.stderr
    (line,) = json_lines(result.stdout)
    check_answer(json.loads(line), {ARTICLE.name: ARTICLE_TEXT}, k, question)
