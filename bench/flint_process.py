"""`flint serve` as a child process for the benchmark scripts: started on a free loopback port,
waited for until /health answers, stopped on exit. Standard library only."""
from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def flint_serve(binary: str, model: str, extra: list[str] = (), startup_s: float = 120):
    """Yields the port of a running `flint serve --model MODEL` (plus `extra` flags)."""
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--model", model, "--host", "127.0.0.1", "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + startup_s
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("flint serve did not start: %s" % proc.stderr.read().decode(errors="replace"))
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
