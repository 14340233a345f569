"""`--max-model-len` (issue 20's full-context flag): the limit shows in /v1/models, a request
beyond it follows `context_length_exceeded_behavior`, and a limit the engine cannot hold is
an error at start-up."""
from __future__ import annotations

import subprocess

from conftest import _flint_bin, _start_server, _stop_server
from e2e_util import MODEL, request

LIMIT = 64


def test_limit_beyond_the_kv_cache_is_a_startup_error():
    r = subprocess.run([str(_flint_bin()), "serve", "--model", MODEL, "--port", "0", "--max-model-len", "8192",
                        "--kv-cache-memory", "8MiB"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "--max-model-len 8192" in r.stderr and "--kv-cache-memory" in r.stderr, r.stderr


def test_requests_follow_the_limit():
    server = _start_server(MODEL, ["--max-model-len", str(LIMIT)], "server-max-model-len.log")
    try:
        url = server.base_url
        models = request(url, "GET", "/v1/models").json()["data"]
        assert models[0]["max_model_len"] == LIMIT
        body = {"model": MODEL, "prompt": "Once upon a time", "max_tokens": LIMIT, "temperature": 0, "ignore_eos": True}
        r = request(url, "POST", "/v1/completions", body)
        assert r.status == 400 and r.json()["error"]["code"] == "context_length_exceeded", r.body
        r = request(url, "POST", "/v1/completions", {**body, "context_length_exceeded_behavior": "truncate"})
        assert r.status == 200, r.body
        usage = r.json()["usage"]
        assert usage["total_tokens"] == LIMIT
        assert r.json()["choices"][0]["finish_reason"] == "length"
    finally:
        _stop_server(server)
