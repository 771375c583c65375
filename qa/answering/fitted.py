"""Fitted parameters as data: the JSON files beside this module, read and checked in one place.

Each file is written by the script that fits it (``--write``), never pasted into code:

    rank.json           the rank weights                      python -m benchmarks.fit_weights --write
    conversation.json   follow-up weights and the gate        python -m benchmarks.fit_conversation --write
    answerability.json  the calibrated "answered" confidence  python -m benchmarks.fit_answerability --write
    reading.json        how the reader moves the ranking      python -m benchmarks.fit_reading --write

``load`` reads one file and hands it to a parser that reads it through ``Fields``, which checks the
shape (an object, the expected names in order, lists of the right length, finite numbers); whatever is
wrong becomes one ``ParametersError`` naming the file, what was wrong and the command that refits it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ParametersError

FOLDER = Path(__file__).parent
FITTED_BY = {
    "rank": "benchmarks.fit_weights",
    "conversation": "benchmarks.fit_conversation",
    "answerability": "benchmarks.fit_answerability",
    "reading": "benchmarks.fit_reading",
}
T = TypeVar("T")


class _FieldError(Exception):
    """What is wrong with a value, said where it is (``follow_up.own.dense``)."""


class Fields:
    """One JSON object of a parameter file, read with checks."""

    def __init__(self, data: object, where: str = "") -> None:
        if not isinstance(data, dict):
            raise _FieldError(f"{where or 'the file'} must be a JSON object, not {type(data).__name__}")
        self._data: dict[str, Any] = data
        self._where = where

    def _get(self, key: str) -> Any:
        if key not in self._data:
            raise _FieldError(f"{self._path(key)} is missing")
        return self._data[key]

    def _path(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def section(self, key: str) -> Fields:
        """The object under ``key``."""
        return Fields(self._get(key), self._path(key))

    def number(self, key: str) -> float:
        """A finite number."""
        return _finite(self._get(key), self._path(key))

    def whole(self, key: str, least: int = 1) -> int:
        """A whole number of at least ``least``."""
        value = self.number(key)
        if value != int(value) or value < least:
            raise _FieldError(f"{self._path(key)} must be a whole number of at least {least}, not {value!r}")
        return int(value)

    def numbers(self, key: str, length: int) -> tuple[float, ...]:
        """A list of ``length`` finite numbers."""
        values = self._get(key)
        if not isinstance(values, list) or len(values) != length:
            raise _FieldError(f"{self._path(key)} must be a list of {length} numbers")
        return tuple(_finite(v, f"{self._path(key)}[{i}]") for i, v in enumerate(values))

    def has_name(self, key: str, name: str) -> bool:
        """Whether the list of names under ``key`` holds ``name``."""
        values = self._get(key)
        return isinstance(values, list) and name in values

    def names(self, key: str, expected: tuple[str, ...]) -> tuple[str, ...]:
        """A list of names that must be exactly ``expected`` (the features the code measures, in order)."""
        if self._get(key) != list(expected):
            raise _FieldError(f"{self._path(key)} names other features than {', '.join(expected)}")
        return expected

    def named(self, expected: tuple[str, ...]) -> tuple[float, ...]:
        """This object as exactly the keys ``expected``, each a finite number, in that order."""
        if sorted(self._data) != sorted(expected):
            raise _FieldError(f"{self._where or 'the file'} must hold exactly {', '.join(expected)}")
        return tuple(self.number(name) for name in expected)


def _finite(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _FieldError(f"{where} must be a finite number, not {value!r}")
    return float(value)


def path_of(name: str, folder: Path = FOLDER) -> Path:
    return folder / f"{name}.json"


def _refit(name: str) -> str:
    return f"run python -m {FITTED_BY[name]} --write" if name in FITTED_BY else "write it again"


def load(name: str, parse: Callable[[Fields], T], folder: Path = FOLDER) -> T:
    """The parameters of ``name``.json in ``folder``, read by ``parse``; ``ParametersError`` if unusable."""
    path = path_of(name, folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParametersError(f"{path} cannot be read ({exc.strerror}); reinstall qa or {_refit(name)}") from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ParametersError(f"{path} is not valid JSON ({exc}); {_refit(name)}") from None
    try:
        return parse(Fields(data))
    except _FieldError as exc:
        raise ParametersError(f"{path}: {exc}; {_refit(name)}") from None


def write(name: str, data: Mapping[str, Any], parse: Callable[[Fields], object], folder: Path = FOLDER) -> Path:
    """Save ``data`` as ``name``.json after checking that ``parse`` reads it back; the path written."""
    try:
        parse(Fields(json.loads(json.dumps(data))))
    except _FieldError as exc:
        raise ParametersError(f"refusing to write {path_of(name, folder)}: {exc}") from None
    path = path_of(name, folder)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path
