"""A session as the browser keeps it between visits: its documents by content hash, its turns — signed.

The page stores this object in the browser's local storage (``gr.BrowserState``) and hands it back on
the next visit. The browser can change it, so it is signed with a key only the server knows (kept in the
index root, ``app-secret``); an object that is not ours, of another format, or whose documents the
library no longer holds is ignored (wholly or in part) with a notice, never trusted as a path or markup:
documents are looked up by hash in the library, names only shown (escaped), quotes checked against the
stored document before the source panel shows them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..answering.results import Answer
from .chat import Conversation, Turn

FORMAT = 1
MAX_TURNS_KEPT = 50  # the latest turns kept in the browser (local storage holds a few MB)
SECRET_FILE = "app-secret"


@dataclass(frozen=True)
class Kept:
    """A saved session read back: documents as (name, sha256, bundled), the conversation, and what was
    ignored (for a notice)."""

    documents: tuple[tuple[str, str, bool], ...]
    conversation: Conversation
    problem: str | None = None


class Signer:
    """Signs and checks saved sessions with a secret kept in ``root`` (made on first use)."""

    def __init__(self, root: Path) -> None:
        self._key = _secret(root / SECRET_FILE)

    def dump(self, documents: list[tuple[str, str, bool]], conversation: Conversation) -> dict[str, Any]:
        body = {
            "v": FORMAT,
            "documents": [{"name": n, "sha256": h, "bundled": b} for n, h, b in documents],
            "turns": [_turn_json(t) for t in conversation.turns[-MAX_TURNS_KEPT:]],
        }
        return {**body, "sig": self._sign(body)}

    def load(self, saved: Any) -> Kept | None:
        """The session in ``saved``; None when there is none; a ``Kept`` with only ``problem`` when it
        cannot be trusted or read."""
        if not saved:
            return None
        if not isinstance(saved, dict) or not isinstance(saved.get("sig"), str):
            return _refused("it is not a saved conversation of this app")
        body = {k: v for k, v in saved.items() if k != "sig"}
        if not hmac.compare_digest(self._sign(body), saved["sig"]):
            return _refused("it was changed outside the app, or saved by another server")
        if body.get("v") != FORMAT:
            return _refused("it was saved by an older version of the app")
        try:
            documents = tuple((str(d["name"]), str(d["sha256"]), bool(d["bundled"])) for d in body["documents"])
            turns = [_turn(t) for t in body["turns"]]
        except (KeyError, TypeError, ValueError):
            return _refused("it is not in the form this app saves")
        return Kept(documents, Conversation(turns))

    def _sign(self, body: dict[str, Any]) -> str:
        canonical = json.dumps(_numbers_as_floats(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hmac.new(self._key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def _numbers_as_floats(value: Any) -> Any:
    """``value`` with every number as a float: the browser keeps 1.0 as 1, so a signature must not
    tell them apart."""
    if isinstance(value, dict):
        return {k: _numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_floats(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def _refused(why: str) -> Kept:
    return Kept((), Conversation(), f"Your saved conversation was not restored: {why}. Starting afresh.")


def _turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "answer": turn.answer.to_json(),
        "truncated": turn.answer.truncated,
        "searched": list(turn.searched),
        "article": turn.article,
        "left_out": list(turn.left_out),
    }


def _turn(record: dict[str, Any]) -> Turn:
    answer = Answer.from_json(record["answer"], bool(record["truncated"]))
    searched = tuple(str(n) for n in record["searched"])
    return Turn(answer, searched, bool(record["article"]), tuple(str(n) for n in record["left_out"]))


def _secret(path: Path) -> bytes:
    """The server's signing key: read from ``path``, or made there (readable by its owner only).

    An unwritable index root gets a key for this run only: saved sessions then last until a restart.
    """
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except OSError:
        pass
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        try:
            os.link(staging, path)  # never replaces a key another process made meanwhile
        except FileExistsError:
            pass
        finally:
            staging.unlink()
        return path.read_bytes()
    except OSError:
        return key
