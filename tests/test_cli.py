from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.answering.engine import Engine
from qa.cli import main
from tests.helpers import assert_one_line_error
from tests.test_engine import check_contract


@pytest.fixture
def run(qa_cli, article_dir: Path):  # type: ignore[no-untyped-def]
    """``qa COMMAND --corpus <the article> ARGS...`` in-process with the fake model."""

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return qa_cli(args[0], "--corpus", article_dir, *args[1:])

    return invoke


def test_ask_json_prints_the_contract(run, fake_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    result = run("ask", "Who launched Qijing?", "-k", "2", "--json")
    assert result.exit_code == 0
    obj = json.loads(result.stdout)
    assert obj["question"] == "Who launched Qijing?"
    check_contract(obj, fake_engine, 2)
    assert obj == fake_engine.ask("Who launched Qijing?", 2).to_json()


def test_ask_for_a_person_quotes_with_position_and_highlight(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ask", "What powertrains will the Zhijie X9 offer?", "-k", "2")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("Q: What powertrains will the Zhijie X9 offer?")
    assert "harmonyos-smart-mobility.txt · " in out and "¶ " in out and "line " in out and "chars " in out
    assert "»" in out and "«" in out and "    > " in out


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("ask", ""), "empty"),
        (("ask", "   "), "empty"),
        (("ask", "Who?", "-k", "0"), "k must be"),
        (("ask", "Who?", "-k", "-3"), "k must be"),
        (("ask", "Who?", "-k", "abc"), "k must be"),
        (("ask", "Who?", "-k", "2.5"), "k must be"),
        (("ask",), "give either a QUESTION"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(run, args: tuple[str, ...], said: str) -> None:  # type: ignore[no-untyped-def]
    assert_one_line_error(run(*args), said)


def test_missing_corpus_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ask", "Who?", "--corpus", str(tmp_path / "missing")])
    assert_one_line_error(result, "does not exist")


def test_k_above_passage_count_returns_all(run) -> None:  # type: ignore[no-untyped-def]
    obj = json.loads(run("ask", "Huawei", "-k", "1000", "--json").stdout)
    assert 30 < len(obj["passages"]) < 1000


def test_questions_file_answers_each_line_in_order(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"q": "Who launched Qijing?"}\n\nWhat powertrains will the Zhijie X9 offer?\n{"q": "Who is Yu?"}\n'
    )
    result = run("ask", "--questions", str(path), "--json", "-k", "1")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == [
        "Who launched Qijing?",
        "What powertrains will the Zhijie X9 offer?",
        "Who is Yu?",
    ]


def test_questions_file_with_an_out_of_range_number_names_the_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "q.jsonl"
    path.write_text('{"q": "Fine?"}\n{"q": "Who?", "answers": [{"start": 1e999, "end": 2, "text": "x"}]}\n')
    assert_one_line_error(run("ask", "--questions", str(path), "--json"), "q.jsonl:2: not a question row")


def test_questions_file_with_an_empty_question_names_it(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "q.jsonl"
    path.write_text('{"q": "Fine?"}\n{"q": "  "}\n')
    assert_one_line_error(run("ask", "--questions", str(path), "--json"), "question 2")


def test_index_builds_then_reports_up_to_date(run) -> None:  # type: ignore[no-untyped-def]
    first = run("index")
    assert first.exit_code == 0 and "index built" in first.stdout
    second = run("index")
    assert second.exit_code == 0 and "index up to date" in second.stdout


def test_eval_prints_the_metrics_table(run, tmp_path: Path, article_text: str) -> None:  # type: ignore[no-untyped-def]
    start = article_text.index("Qijing")
    rows = [
        {
            "id": "1",
            "q": "What brand did GAC launch with Huawei Qiankun?",
            "answers": [{"text": "Qijing", "start": start, "end": start + 6}],
        },
        {"id": "2", "q": "What is the capital of France?", "answers": []},
    ]
    path = tmp_path / "set.questions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    result = run("eval", "--questions", str(path), "--json")
    assert result.exit_code == 0
    metrics = json.loads(result.stdout)["set.questions.jsonl"]
    assert metrics["questions"] == 2 and metrics["answerable"] == 1 and metrics["unanswerable"] == 1
    assert metrics["not_verbatim"] == 0
    table = run("eval", "--questions", str(path)).stdout
    assert table.startswith("| set | n | hit@1 |")


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert all(cmd in result.stdout for cmd in ("ask", "index", "eval"))


def test_questions_file_rows_with_history_are_answered_in_their_conversation(  # type: ignore[no-untyped-def]
    run, fake_engine: Engine, tmp_path: Path
) -> None:
    rows = [
        {"q": "What is the Zhijie X9?"},
        {"q": "How much will it cost?", "history": ["What is the Zhijie X9?"]},
    ]
    path = tmp_path / "dialogue.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run("ask", "--questions", str(path), "--json", "-k", "2")
    assert result.exit_code == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert got[1] == fake_engine.ask("How much will it cost?", 2, history=["What is the Zhijie X9?"]).to_json()
    assert got[0]["context"] is None


def test_a_history_that_is_not_a_list_of_turns_names_the_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "q.jsonl"
    path.write_text('{"q": "Fine?"}\n{"q": "And?", "history": "not a list"}\n')
    assert_one_line_error(run("ask", "--questions", str(path), "--json"), "q.jsonl:2: history must be a list")
    path.write_text('{"q": "And?", "history": [{"q": "Fine?", "answer": {"doc": "a.txt", "start": 0}}]}\n')
    assert_one_line_error(run("ask", "--questions", str(path), "--json"), "q.jsonl:1: history must be a list")


def test_history_rows_may_carry_the_earlier_answers(run, tmp_path: Path, article_text: str) -> None:  # type: ignore[no-untyped-def]
    start = article_text.index("between 350,000 and 450,000 yuan")
    said = {"doc": "harmonyos-smart-mobility.txt", "start": start, "end": start + 32}
    path = tmp_path / "q.jsonl"
    rows = [{"q": "How much will it cost?", "history": [{"q": "What is the Zhijie X9?", "answer": said}]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run("ask", "--questions", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passages"]


def test_eval_reports_follow_ups_apart_from_first_turns(run, tmp_path: Path, article_text: str) -> None:  # type: ignore[no-untyped-def]
    start = article_text.index("between 350,000 and 450,000 yuan")
    gold = [{"text": "between 350,000 and 450,000 yuan", "start": start, "end": start + 32}]
    rows = [
        {"id": "1", "q": "What is the Zhijie X9?", "answers": gold},
        {"id": "2", "q": "How much will it cost?", "history": ["What is the Zhijie X9?"], "answers": gold},
        {
            "id": "3",
            "q": "Who won the World Cup?",
            "history": ["What is the Zhijie X9?"],
            "answers": [],
            "kind": "switch",
        },
    ]
    path = tmp_path / "dialogues.questions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    metrics = json.loads(run("eval", "--questions", str(path), "--json").stdout)
    assert metrics["dialogues.questions.jsonl"]["questions"] == 3
    assert metrics["dialogues.questions.jsonl · first turns"]["questions"] == 1
    assert metrics["dialogues.questions.jsonl · follow-ups"]["questions"] == 1
    assert metrics["dialogues.questions.jsonl · topic switches"]["unanswerable"] == 1


def test_chat_keeps_the_conversation_until_an_empty_line_or_clear(
    tmp_path: Path, article_dir: Path, fake_model: object
) -> None:
    """``qa chat`` in a real subprocess (the fake model), fed on standard input."""
    from tests.helpers import ROOT, driver_env

    lines = ["What is the Zhijie X9?", "How much will it cost?", "", "How much will it cost?", "/clear", "/quit", "x?"]
    result = subprocess.run(
        [sys.executable, "-m", "tests.fault_driver", "qa", "--", "chat", "--corpus", str(article_dir), "--json"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=driver_env(QA_INDEX_DIR=str(tmp_path / "index")),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [a["question"] for a in answers] == lines[:2] + lines[3:4]  # "/quit" stops before "x?"
    assert result.stderr.count("qa: new conversation") == 2
    engine = Engine.open([article_dir])
    assert answers[1] == engine.ask(lines[1], history=[lines[0]]).to_json()
    assert answers[2] == engine.ask(lines[1]).to_json()  # after the empty line: a new conversation
