"""Nothing at run time touches the network: sockets to anything but loopback are blocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ARTICLE, ROOT

QUESTION = "What powertrains will the Zhijie X9 offer?"
GUARD = """
import sys, pytest_socket
pytest_socket.socket_allow_hosts(["127.0.0.1", "::1"], allow_unix_socket=True)
from qa.cli import main
sys.argv = ["qa", *sys.argv[1:]]
main()
"""


@pytest.mark.model
def test_ask_with_the_real_model_makes_no_network_connection(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env["QA_INDEX_DIR"] = str(tmp_path / "index")
    env["HOME"] = str(tmp_path)  # no warm Hugging Face cache to hide a download attempt
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            GUARD,
            "ask",
            "What powertrains will the Zhijie X9 offer?",
            "--corpus",
            str(ARTICLE),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tried to use socket" not in result.stderr
    answer = json.loads(result.stdout)
    assert answer["answered"] is True
    assert "pure - electric and extended - range powertrains" in answer["passages"][0]["text"]


def test_the_guard_really_blocks_outside_connections() -> None:
    code = (
        "import socket, pytest_socket\n"
        "pytest_socket.socket_allow_hosts(['127.0.0.1'])\n"
        "socket.create_connection(('10.1.2.3', 80), timeout=1)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "SocketConnectBlockedError" in result.stderr
