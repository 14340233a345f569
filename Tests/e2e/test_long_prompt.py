"""A 16,000-token prompt through the server on qwen2.5-coder-0.5b-instruct (issue 20): it
completes with a KV pool of 256 MiB (--kv-cache-memory) of F16, or 128 MiB of Q8_0 (where
F16 would hold only 10,900 tokens), and the pool the server reports is within that budget
while it runs."""
from __future__ import annotations

import random
import re
import threading

import pytest

from conftest import _start_server, _stop_server
from e2e_util import request

MODEL = "qwen2.5-coder-0.5b-instruct"
MIB = 1024 * 1024
# keys and values of 24 layers x 2 KV heads x 64 dimensions (flint inspect): F16 is 2 bytes a
# value, Q8_0 34 bytes per 32 values (an F16 scale and 32 int8), 53% of F16
F16_BYTES_PER_TOKEN = 24 * 2 * 64 * 2 * 2
Q8_BYTES_PER_TOKEN = 24 * 2 * (64 // 32 * 34) * 2
BLOCK = 16
PROMPT = 16_000


def _gauge(url: str, name: str) -> float:
    text = request(url, "GET", "/metrics").body.decode()
    m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+]+)$" % re.escape(name), text, re.M)
    assert m, name
    return float(m.group(1))


@pytest.mark.parametrize("dtype,kv_mib,bytes_per_token", [("f16", 256, F16_BYTES_PER_TOKEN), ("q8_0", 128, Q8_BYTES_PER_TOKEN)])
def test_16k_prompt_completes_within_the_kv_budget(dtype, kv_mib, bytes_per_token):
    assert Q8_BYTES_PER_TOKEN <= 0.55 * F16_BYTES_PER_TOKEN
    server = _start_server(MODEL, ["--kv-cache-memory", "%dMiB" % kv_mib, "--max-model-len", "16384", "--kv-cache-dtype", dtype],
                           "server-long-prompt-%s.log" % dtype)
    try:
        url = server.base_url
        total = _gauge(url, "flint:kv_cache_blocks_total")
        assert total * BLOCK * bytes_per_token <= kv_mib * MIB
        assert total * BLOCK >= PROMPT  # the pool holds the prompt: for q8_0 only at its own size
        rng = random.Random(7)
        prompt = [rng.randrange(1000, 30000) for _ in range(PROMPT)]
        used = []
        done = threading.Event()

        def watch():
            while not done.wait(1.0):
                used.append(_gauge(url, "flint:kv_cache_blocks_used"))

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            r = request(url, "POST", "/v1/completions",
                        {"model": MODEL, "prompt": prompt, "max_tokens": 8, "temperature": 0, "ignore_eos": True}, timeout=900)
        finally:
            done.set()
            watcher.join()
        assert r.status == 200, r.body
        body = r.json()
        assert body["usage"]["prompt_tokens"] == PROMPT
        assert body["usage"]["completion_tokens"] == 8
        assert body["choices"][0]["finish_reason"] == "length"
        assert used and max(used) * BLOCK >= PROMPT // 2, used  # the prompt's blocks were in the pool
        assert max(used) <= total
    finally:
        _stop_server(server)
