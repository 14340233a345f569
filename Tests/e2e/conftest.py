"""Session fixtures for the Flint end-to-end tests: `flint serve` processes shared by the whole run."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_util import API_KEY, MODEL, request  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 120
SHUTDOWN_TIMEOUT_S = 30


@dataclass
class FlintServer:
    base_url: str
    proc: subprocess.Popen
    log_path: Path
    argv: list

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, n: int = 8000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError as e:
            return f"<cannot read server log: {e}>"
        return data[-n:].decode("utf-8", "replace")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flint_bin() -> Path:
    p = Path(os.environ.get("FLINT_BIN", ".build/release/flint"))
    if not p.is_absolute():
        p = REPO_ROOT / p
    return p


def _start_server(model: str, extra: list, log_name: str) -> FlintServer:
    """Starts `flint serve` on a free port and waits until /health answers 200."""
    binary = _flint_bin()
    if not binary.exists():
        pytest.fail(f"flint binary not found at {binary} (set FLINT_BIN or build with `swift build -c release`)")
    port = _free_port()
    argv = [str(binary), "serve", "--model", model, "--host", "127.0.0.1", "--port", str(port),
            "--api-key", "test-key-1", "--api-key", "test-key-2"] + extra
    log_dir = Path(os.environ.get("FLINT_E2E_LOG_DIR") or tempfile.mkdtemp(prefix="flint-e2e-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / log_name
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    log.close()  # the child keeps its own descriptor
    server = FlintServer(f"http://127.0.0.1:{port}", proc, log_path, argv)
    print(f"\n[flint-e2e] started pid {proc.pid}: {' '.join(argv)}\n[flint-e2e] server log: {log_path}", file=sys.stderr)

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"flint serve exited with status {proc.returncode} before becoming healthy.\n"
                        f"argv: {argv}\n--- server output ---\n{server.log_tail()}", pytrace=False)
        try:
            r = request(server.base_url, "GET", "/health", timeout=5, api_key=None)
            last = f"status {r.status}: {r.body[:200]!r}"
            if r.status == 200:
                return server
        except OSError as e:
            last = repr(e)
        time.sleep(0.25)
    proc.kill()
    proc.wait()
    pytest.fail(f"flint serve did not answer GET /health with 200 within {STARTUP_TIMEOUT_S} s "
                f"(last: {last}).\n--- server output ---\n{server.log_tail()}", pytrace=False)


def _stop_server(server: FlintServer):
    """SIGTERM; it must exit by itself within SHUTDOWN_TIMEOUT_S with a clean status."""
    proc = server.proc
    exited_by_itself = True
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            exited_by_itself = False
            proc.kill()
            proc.wait()
    else:
        exited_by_itself = None  # it had died before the end of the session
    rc = proc.returncode
    print(f"\n[flint-e2e] server {server.argv[3]} exited with status {rc}", file=sys.stderr)
    assert exited_by_itself is not None, (
        f"flint serve died during the session (status {rc}).\n--- server output ---\n{server.log_tail()}")
    assert exited_by_itself, (
        f"flint serve did not exit within {SHUTDOWN_TIMEOUT_S} s of SIGTERM and had to be killed.\n"
        f"--- server output ---\n{server.log_tail()}")
    assert rc in (0, -signal.SIGTERM, 128 + signal.SIGTERM), (
        f"flint serve exited with status {rc} after SIGTERM.\n--- server output ---\n{server.log_tail()}")


@pytest.fixture(scope="session")
def flint_server():
    server = _start_server(MODEL, ["--max-queue", "8", "--kv-cache-memory", "256MiB"], "server.log")
    yield server
    _stop_server(server)


@pytest.fixture(scope="session")
def model_servers():
    """`model_servers(name)`: a server for any catalog model, started on first use, one per model."""
    servers: dict = {}

    def get(model: str) -> FlintServer:
        if model not in servers:
            servers[model] = _start_server(model, ["--kv-cache-memory", "512MiB"], f"server-{model}.log")
        server = servers[model]
        if server.proc.poll() is not None:
            pytest.fail(f"flint serve for {model} exited (status {server.proc.returncode}).\n"
                        f"--- server output ---\n{server.log_tail()}", pytrace=False)
        return server

    yield get
    for server in servers.values():
        _stop_server(server)


@pytest.fixture(scope="session")
def base_url(flint_server) -> str:
    return flint_server.base_url


@pytest.fixture(scope="session")
def server_pid(flint_server) -> int:
    return flint_server.pid


@pytest.fixture(autouse=True)
def _server_still_alive(flint_server):
    """Fail the test during which the server process died (with its output)."""
    yield
    if flint_server.proc.poll() is not None:
        pytest.fail(f"flint serve exited (status {flint_server.proc.returncode}) during this test.\n"
                    f"--- server output ---\n{flint_server.log_tail()}", pytrace=False)


@pytest.fixture(scope="session")
def openai_module():
    import openai
    return openai


@pytest.fixture()
def client(base_url, openai_module):
    # The SDK's default retries, as real clients have them (test_keepalive.py runs without).
    c = openai_module.OpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=2, timeout=120)
    yield c
    c.close()
