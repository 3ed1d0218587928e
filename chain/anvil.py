"""A local anvil node (npm package @foundry-rs/anvil), for `make run` and the tests."""

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from django.conf import settings

BINARY = settings.BASE_DIR / "node_modules" / ".bin" / "anvil"


def available() -> bool:
    return BINARY.exists() and shutil.which("node") is not None


def _answers(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return b"result" in response.read()
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(
    port: int, *, state: Path | None = None, extra: list[str] = ()
) -> tuple[subprocess.Popen, str]:
    """Start anvil on 127.0.0.1:``port``; returns the process and its URL once it answers.

    With ``state`` the chain is loaded from that file if it exists and written
    back to it every few seconds and on exit, so anchors survive restarts.
    """
    command = [str(BINARY), "--host", "127.0.0.1", "--port", str(port), "--silent", *extra]
    if state is not None:
        command += ["--state", str(state), "--state-interval", "5"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not _answers(url):
        if process.poll() is not None:
            raise RuntimeError(f"anvil exited: {process.stderr.read().decode()[-500:].strip()}")
        if time.monotonic() > deadline:
            process.terminate()
            raise RuntimeError("anvil did not answer within 30 s")
        time.sleep(0.1)
    return process, url


def stop(process: subprocess.Popen) -> None:
    """SIGTERM lets anvil write its state file before it exits."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
