#!/usr/bin/env python3
"""Decode speed with a JSON schema vs unconstrained, through `flint serve`, one request at a time.

    bench/structured_decode.py [--models m1,m2] [--repetitions 3] [--flint .build/release/flint]

For each model: a streamed request constrained by a schema that asks for a long document, and an
unconstrained one with the same prompt, ignore_eos and the same number of new tokens, alternating.
Decode tok/s = (completion tokens - 1) / (time of last token - time of first token), so prompt
processing is left out. Prints a table with the ratio constrained / unconstrained.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time

from flint_process import flint_serve

SCHEMA = {
    "type": "object",
    "properties": {"items": {"type": "array", "minItems": 24, "maxItems": 24, "items": {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 12},
                       "qty": {"type": "integer", "minimum": 0, "maximum": 999},
                       "tags": {"type": "array", "maxItems": 2, "items": {"enum": ["new", "sale", "bulk"]}}},
        "required": ["name", "qty", "tags"], "additionalProperties": False}}},
    "required": ["items"], "additionalProperties": False,
}
PROMPT = "List 24 items of a hardware store inventory as JSON."


def stream(port: int, body: dict):
    """(completion tokens, seconds from first to last token) of one streamed chat request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:300]!r}")
    first = last = None
    usage = None
    for raw in r:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if event.get("usage"):
            usage = event["usage"]
        for c in event.get("choices", []):
            d = c.get("delta", {})
            if d.get("content") or d.get("tool_calls"):
                now = time.perf_counter()
                first = first or now
                last = now
    conn.close()
    return usage["completion_tokens"], (last - first)


def bench_model(flint: str, model: str, repetitions: int):
    with flint_serve(flint, model) as port:
        base = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "stream": True,
                "stream_options": {"include_usage": True}, "temperature": 0}
        constrained, free = [], []
        for _ in range(repetitions + 1):  # the first round warms up (grammar caches, pages)
            n, t = stream(port, {**base, "max_tokens": 2000,
                                 "response_format": {"type": "json_schema", "json_schema": {"name": "inv", "schema": SCHEMA}}})
            constrained.append((n - 1) / t)
            m, u = stream(port, {**base, "max_tokens": n, "ignore_eos": True})
            free.append((m - 1) / u)
        return n, constrained[1:], free[1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="smollm2-135m-instruct,gemma-3-270m,qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--flint", default=os.environ.get("FLINT_BIN", ".build/release/flint"))
    a = ap.parse_args()
    print(f"{'model':32} {'tokens':>6} {'json schema tok/s':>18} {'free tok/s':>12} {'ratio':>6}")
    for model in a.models.split(","):
        n, c, f = bench_model(a.flint, model, a.repetitions)
        mc, mf = statistics.mean(c), statistics.mean(f)
        sc = statistics.stdev(c) if len(c) > 1 else 0
        sf = statistics.stdev(f) if len(f) > 1 else 0
        print(f"{model:32} {n:6d} {mc:11.1f} ± {sc:4.1f} {mf:7.1f} ± {sf:4.1f} {mc / mf:6.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
