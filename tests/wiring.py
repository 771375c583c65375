"""Drive the page through Gradio's own event wiring, without a browser: each event runs the handler
Gradio would run (found by the element it is wired to), with Gradio's pre- and post-processing, and
its outputs checked against what the event lists — so a handler returning too few values fails here
as it fails in the page."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.blocks import BlockFunction
from gradio.state_holder import SessionState


class Wiring:
    """One browser session on a built page: ``fire`` an event of an element, read what it updated."""

    def __init__(self, demo: gr.Blocks, session: str | None = None) -> None:
        self.demo = demo
        self.session = session or uuid.uuid4().hex
        self.state = SessionState(demo)
        self.values: dict[int, Any] = {}  # the latest value each element was given, by block id

    def element(self, which: str | type) -> Any:
        """The element with this ``elem_id``, or the first of this component type."""
        for block in self.demo.blocks.values():
            if getattr(block, "elem_id", None) == which or (isinstance(which, type) and isinstance(block, which)):
                return block
        raise KeyError(which)

    def _fn(self, target: Any, event: str) -> BlockFunction:
        ids = {target._id, None} if target is self.demo else {target._id}  # the page's unload has no target
        for fn in self.demo.fns.values():
            if any(t[0] in ids and t[1] == event for t in fn.targets) and fn.fn is not None:
                return fn
        raise KeyError(f"nothing is wired to {event} of {target}")

    def fire(self, which: str | type | None, event: str, *inputs: Any, data: Any = None) -> list[list[Any]]:
        """Run the handler wired to ``event`` of the element ``which`` (an elem_id or a component type;
        None: the page itself) with the frontend ``inputs``; every output it produced (one list per
        yield), postprocessed."""
        target = self.demo if which is None else self.element(which)
        fn = self._fn(target, event)
        request = gr.Request(session_hash=self.session)
        event_data = gr.EventData(target, data) if data is not None else None
        return asyncio.run(self._run(fn, list(inputs), request, event_data))

    async def _run(self, fn: BlockFunction, inputs: list[Any], request: gr.Request, data: Any) -> list[list[Any]]:
        outputs: list[list[Any]] = []
        iterator = None
        while True:
            result = await self.demo.process_api(
                fn, inputs, state=self.state, request=request, iterator=iterator, event_data=data
            )
            if result["is_generating"] or iterator is None:  # a generator's last call only says it ended
                outputs.append(result["data"])
                for block, value in zip(fn.outputs, result["data"], strict=True):
                    self._keep(block, value)
            if not result["is_generating"]:
                return outputs
            iterator = result["iterator"]

    def _keep(self, block: Any, value: Any) -> None:
        if isinstance(value, dict) and value.get("__type__") == "update":
            if "value" not in value:
                return
            value = value["value"]
        self.values[block._id] = value

    def value(self, which: str | type) -> Any:
        """What the element ``which`` (elem_id or component type) was last given, None if nothing."""
        return self.values.get(self.element(which)._id)

    def upload(self, elem_id: str, *paths: Path) -> list[list[Any]]:
        """Choose files in the file element ``elem_id``, as the page sends them once uploaded."""
        files = [{"path": str(p), "orig_name": p.name, "meta": {"_type": "gradio.FileData"}} for p in paths]
        return self.fire(elem_id, "upload", files)
