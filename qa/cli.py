"""The ``qa`` command: build the index, ask questions, measure retrieval.

Library errors become one line on stderr and exit code 2. Heavy libraries are imported inside the
commands so that ``qa --help`` starts fast.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from .answering.engine import Engine
    from .answering.results import Answer
    from .evaluate import Metrics
    from .models.embed import Embedder


class CLIError(click.ClickException):
    """A one-line error on stderr, exit code 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"qa: error: {self.format_message()}", err=True)


@contextmanager
def _errors() -> Iterator[None]:
    from .errors import QAError

    try:
        yield
    except QAError as exc:
        raise CLIError(str(exc)) from None


def _notice(message: str) -> None:
    click.echo(f"qa: {message}", err=True)


class _Progress:
    """A tqdm bar on stderr for long index builds (hidden when stderr is not a terminal)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc="qa: embedding", unit="text", file=sys.stderr, disable=None)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.close()


def _open_engine(
    corpus: Sequence[str],
    model: str | None,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    fusion: str = "weighted",
) -> Engine:
    from .answering.engine import Engine

    return Engine.open(
        list(corpus) or None,
        model=model,
        embedder=embedder,
        notice=_notice,
        progress=_Progress(),
        rebuild=rebuild,
        fusion=fusion,
    )


corpus_option = click.option(
    "--corpus",
    "corpus",
    multiple=True,
    type=click.Path(path_type=str),
    help="A file or folder of .txt/.md documents; repeat for several. Default: ./corpus",
)
model_option = click.option(
    "--model", envvar="QA_MODEL", default=None, help="sentence-transformers model name or folder [env QA_MODEL]."
)


def _parse_k(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    """``-k`` as a whole number ≥ 1, or the one-line error (not click's three-line usage message)."""
    from .answering.engine import check_k
    from .errors import QAError

    try:
        number: object = int(value)
    except ValueError:
        number = value
    try:
        return check_k(number)
    except QAError as exc:
        raise CLIError(str(exc)) from None


k_option = click.option(
    "-k", "k", default="5", show_default=True, callback=_parse_k, help="Number of passages to return."
)
fusion_option = click.option(
    "--fusion",
    type=click.Choice(["weighted", "rrf"]),
    default="weighted",
    show_default=True,
    help="Ranking: the fitted weighted score, or plain reciprocal rank fusion (for comparison).",
)


def answer_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--corpus``, ``-k``, ``--model`` and ``--fusion``: what every answering command takes."""
    for option in (fusion_option, model_option, k_option, corpus_option):
        command = option(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qa-grounded", prog_name="qa")
def main() -> None:
    """Answer questions from an article with verbatim, positioned passages."""


@main.command()
@corpus_option
@model_option
@click.option("--rebuild", is_flag=True, help="Rebuild even if the saved index is up to date.")
def index(corpus: tuple[str, ...], model: str | None, rebuild: bool) -> None:
    """Build or refresh the index of the corpus."""
    with _errors():
        engine = _open_engine(corpus, model, rebuild)
    stored = engine.stored
    assert stored is not None  # an engine opened from a corpus always has its stored index
    state = "built" if stored.rebuilt else "up to date"
    click.echo(
        f"index {state}: {len(engine.documents)} document(s), {len(engine.passages)} passages, "
        f"model {stored.manifest.model}, folder {stored.folder}"
    )


@main.command()
@click.argument("question", required=False)
@click.option(
    "--questions",
    "questions_file",
    type=click.Path(path_type=Path),
    help='JSON Lines file with a "q" field (or plain lines): one answer per line, in order.',
)
@answer_options
@click.option("--json", "as_json", is_flag=True, help="Print the JSON object (one per line with --questions).")
def ask(
    question: str | None,
    questions_file: Path | None,
    corpus: tuple[str, ...],
    k: int,
    as_json: bool,
    model: str | None,
    fusion: str,
) -> None:
    """Ask QUESTION (or every question of --questions FILE)."""
    from .answering.engine import Turn, check_k
    from .answering.question import check_question, check_turns
    from .evaluate import read_questions

    with _errors():
        if (question is None) == (questions_file is None):
            raise CLIError('give either a QUESTION or --questions FILE, e.g. qa ask "Who launched Qijing?"')
        check_k(k)
        histories: list[tuple[Turn, ...]] = [()]
        if questions_file is not None:
            rows = read_questions(questions_file)
            questions, histories = [q.q for q in rows], [q.history for q in rows]
            for number, row in enumerate(rows, start=1):
                try:
                    check_turns(row.history)
                    check_question(row.q)
                except Exception as exc:
                    raise CLIError(f"{questions_file}, question {number}: {exc}") from None
        else:
            questions = [check_question(question)]
        engine = _open_engine(corpus, model, fusion=fusion)
        answers = engine.ask_many(questions, k, histories=histories)
    _print_answers(answers, as_json, len(engine.documents))


@main.command()
@answer_options
@click.option("--json", "as_json", is_flag=True, help="Print each answer as the JSON object, one per line.")
def chat(corpus: tuple[str, ...], k: int, as_json: bool, model: str | None, fusion: str) -> None:
    """Ask one question after another; each is read in the conversation so far.

    Questions are read from standard input, one per line. An empty line or /clear starts a new
    conversation; /quit (or the end of the input) stops.
    """
    from .errors import QAError

    with _errors():
        engine = _open_engine(corpus, model, fusion=fusion)
    interactive = sys.stdin.isatty()
    history: list[str] = []
    while True:
        if interactive:
            click.echo("? ", nl=False)
        line = sys.stdin.readline()
        if not line or line.strip() == "/quit":
            return
        question = line.removesuffix("\n").removesuffix("\r")
        if not question.strip() or question.strip() == "/clear":
            history = []
            _notice("new conversation")
            continue
        try:
            answer = engine.ask(question, k, history=history)
        except QAError as exc:
            click.echo(f"qa: {exc}", err=True)
            continue
        if history and not as_json:
            click.echo("\n" + "─" * 40)
        _print_answers([answer], as_json, len(engine.documents))
        history.append(question)


def _print_answers(answers: Sequence[Answer], as_json: bool, documents: int = 1) -> None:
    """Each answer as one JSON line, or as text for a person (a rule between answers)."""
    from .render import text_answer

    color = sys.stdout.isatty()
    for i, answer in enumerate(answers):
        if as_json:
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
        else:
            if i:
                click.echo("\n" + "─" * 40)
            click.echo(text_answer(answer, color=color, documents=documents))


def _eval_corpus(questions_file: Path, corpus: tuple[str, ...]) -> list[str]:
    """The corpus for a question file: --corpus, else its sibling document, else ./corpus."""
    if corpus:
        return list(corpus)
    stem = questions_file.name.removesuffix(".jsonl").removesuffix(".questions")
    for suffix in (".txt", ".md"):
        sibling = questions_file.with_name(stem + suffix)
        if sibling.is_file():
            return [str(sibling)]
    return []


def _target_document(engine: Engine, questions_file: Path) -> str:
    names = [d.name for d in engine.documents]
    if len(names) == 1:
        return names[0]
    stem = questions_file.name.removesuffix(".jsonl").removesuffix(".questions")
    matches = [n for n in names if Path(n).stem == stem]
    if len(matches) == 1:
        return matches[0]
    raise CLIError(
        f"cannot tell which of the {len(names)} documents {questions_file} is about; "
        "pass --corpus with that one document"
    )


TURN_KINDS = (("first", "first turns"), ("follow-up", "follow-ups"), ("switch", "topic switches"))
METRIC_COLUMNS = (
    ("questions", "n", "{:d}"),
    ("hit1", "hit@1", "{:.3f}"),
    ("hit3", "hit@3", "{:.3f}"),
    ("hit5", "hit@5", "{:.3f}"),
    ("mrr", "MRR", "{:.3f}"),
    ("highlight1", "hl@1", "{:.3f}"),
    ("rejected_unanswerable", "rejected", "{:.3f}"),
    ("wrongly_rejected", "wrong-rej", "{:.3f}"),
    ("median_chars", "median chars", "{:.0f}"),
    ("not_verbatim", "not verbatim", "{:d}"),
)


def metrics_table(rows: Sequence[tuple[str, Metrics]]) -> str:
    """A Markdown table of metrics, one row per question set."""
    header = "| set | " + " | ".join(label for _, label, _ in METRIC_COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(METRIC_COLUMNS) + 1)]
    for name, metrics in rows:
        cells = []
        for field, _, fmt in METRIC_COLUMNS:
            value = getattr(metrics, field)
            cells.append("–" if value is None else fmt.format(value))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@main.command(name="eval")
@click.option(
    "--questions",
    "questions_files",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="A bench question file (JSON Lines with gold spans); repeat for several.",
)
@answer_options
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(
    questions_files: tuple[Path, ...], corpus: tuple[str, ...], k: int, as_json: bool, model: str | None, fusion: str
) -> None:
    """Measure hit@1/3/5, MRR, highlight@1 and rejection on question files.

    Without --corpus, each FILE is matched with the document beside it (Title.questions.jsonl ->
    Title.txt), or with ./corpus when there is none.
    """
    from .answering.engine import check_k
    from .evaluate import evaluate_groups, mean_metrics, read_questions
    from .models import embedders

    rows: list[tuple[str, Metrics]] = []
    files: list[Metrics] = []
    with _errors():
        check_k(k)
        embedder: Embedder | None = None
        for questions_file in questions_files:
            questions = read_questions(questions_file)
            if embedder is None:
                embedder = embedders.make_embedder(model, notice=_notice)
            engine = _open_engine(_eval_corpus(questions_file, corpus), model, embedder=embedder, fusion=fusion)
            doc = "" if questions and all(q.doc for q in questions) else _target_document(engine, questions_file)
            # Conversations: each kind of turn apart too.
            kinds = [kind for kind, _ in TURN_KINDS] if any(q.history for q in questions) else []
            measured = evaluate_groups(engine, questions, doc, k, groups=kinds)
            rows.append((questions_file.name, measured[""]))
            files.append(measured[""])
            labels = dict(TURN_KINDS)
            rows += [(f"{questions_file.name} · {labels[kind]}", m) for kind, m in measured.items() if kind]
    if len(files) > 1:
        rows.append((f"mean of {len(files)}", mean_metrics(files)))
    if as_json:
        click.echo(json.dumps({name: dataclasses.asdict(m) for name, m in rows}, indent=1))
    else:
        click.echo(metrics_table(rows))
