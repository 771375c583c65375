"""The layout of ``qa``: imports point only down the data path, no module imports one that imports it,
and no function is longer than a screen.

Every import counts, at the top of a module or inside a function (or under ``TYPE_CHECKING``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import qa

ROOT = Path(qa.__file__).parent
# The data path, lowest first: a module may import modules of its own step or of a lower one.
STEPS = {
    "qa.errors": 0,
    "qa.settings": 1,
    "qa.storage": 1,
    "qa.documents": 2,
    "qa.models": 3,
    "qa.retrieval": 4,
    "qa.answering": 5,
    "qa.evaluate": 6,
    "qa.render": 6,
    "qa.cli": 7,
    "qa.app": 7,
}
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The ``qa`` modules that module ``name`` (at ``path``) imports, anywhere in its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:  # "from qa.models import embedders" imports the module qa.models.embedders
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {target for target in found if target in known and target != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported(name, path, known) for name, path in found.items()}


def step(name: str) -> int | None:
    while name:
        if name in STEPS:
            return STEPS[name]
        name = name.rpartition(".")[0]
    return None


def test_qa_has_its_steps_as_folders() -> None:
    packages = {name for name, path in modules().items() if path.name == "__init__.py" and name != "qa"}
    assert {"qa.documents", "qa.models", "qa.retrieval", "qa.answering", "qa.app"} <= packages


def test_every_module_has_a_step() -> None:
    assert [name for name in modules() if name not in {"qa", "qa.__main__"} and step(name) is None] == []


def test_imports_point_down_the_path() -> None:
    upward = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        if name not in {"qa", "qa.__main__"}
        for target in sorted(targets)
        if (step(target) or 0) > (step(name) or 0)
    ]
    assert upward == []


def test_no_import_cycle() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_check_sees_function_level_imports() -> None:
    edges = graph()
    assert "qa.answering.engine" in edges["qa.cli"]  # imported inside the commands only
    assert "qa.models.embed_onnx" in edges["qa.models.embedders"]


def test_no_function_is_longer_than_a_screen() -> None:
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = (node.end_lineno or node.lineno) - first + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert long == []


def test_each_folder_imports_what_its_docstring_says() -> None:
    base = {"qa.errors", "qa.settings", "qa.storage"}
    allowed = {
        "qa.documents": base,
        "qa.models": base,  # not qa.documents: a model sees text
        "qa.retrieval": base | {"qa.documents", "qa.models"},
        "qa.answering": base | {"qa.documents", "qa.models", "qa.retrieval"},
    }
    found = {
        package: {
            ".".join(t.split(".")[:2]) for name, targets in graph().items() if name.startswith(package) for t in targets
        }
        - {package}
        for package in allowed
    }
    assert [f"{p} imports {sorted(found[p] - allowed[p])}" for p in allowed if found[p] - allowed[p]] == []
