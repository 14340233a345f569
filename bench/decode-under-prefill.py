#!/usr/bin/env python3
"""Do decoding streams keep flowing while long prompts arrive? (issue 20)

Starts `flint serve` (.build/release/flint, or --binary) on a free port, then for --seconds:
--clients streaming clients each decode one completion after another (a --prompt-tokens
random prompt, --max-tokens tokens, ignore_eos), while every --interval seconds one prompt of
--long-tokens random tokens arrives (streamed, 1 new token). Reports the decoding streams'
inter-token latency (gaps between streamed tokens) p50/p99 and their ratio, their output
tok/s over their window, and each long prompt's time to first token (the ones still queued
when the decoders stop are waited for), as one JSON object.

    bench/decode-under-prefill.py [--model smollm2-135m-instruct] [--clients 16] [--long-tokens 6000]
                                  [--interval 5] [--seconds 60] [--threads 2] [-- extra serve flags]
Standard library only."""
import argparse
import http.client
import json
import random
import socket
import statistics
import subprocess
import sys
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stream_completion(port, model, prompt, max_tokens, on_token):
    """One streamed /v1/completions request; on_token(t) at each streamed chunk with text or ids."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                       "ignore_eos": True, "stream": True, "prompt_cache_max_len": 0})
    conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError("status %d: %s" % (r.status, r.read()[:200]))
    for line in r:
        if line.startswith(b"data: {"):
            on_token(time.perf_counter())
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/flint")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--prompt-tokens", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--long-tokens", type=int, default=6000)
    ap.add_argument("--interval", type=float, default=5)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("serve_args", nargs="*")
    a = ap.parse_args()

    port = free_port()
    server = subprocess.Popen([a.binary, "serve", "--model", a.model, "--port", str(port), "--threads", str(a.threads),
                               "--max-queue", "1024"] + a.serve_args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError("flint serve did not start: %s" % server.stderr.read().decode(errors="replace"))
            time.sleep(0.2)

        rng = random.Random(1)
        vocab = 49152 if "smollm2" in a.model else 32000  # random ids below every catalog vocabulary
        lock = threading.Lock()
        gaps, tokens, ttfts = [], [0], []
        end = time.perf_counter() + a.seconds

        def decoder(seed):
            r = random.Random(seed)
            while time.perf_counter() < end:
                last = [None]

                def on_token(t):
                    with lock:
                        if last[0] is not None:
                            gaps.append(t - last[0])
                        tokens[0] += 1
                    last[0] = t
                stream_completion(port, a.model, [r.randrange(vocab) for _ in range(a.prompt_tokens)], a.max_tokens, on_token)

        def long_prompt(prompt):
            start = time.perf_counter()
            first = []
            stream_completion(port, a.model, prompt, 1, lambda t: first.append(t))
            with lock:
                ttfts.append(first[0] - start)

        workers = [threading.Thread(target=decoder, args=(i,)) for i in range(a.clients)]
        for w in workers:
            w.start()
        started = time.perf_counter()
        time.sleep(min(a.interval, a.seconds / 4))  # decoders first, then the long prompts
        longs = []
        while time.perf_counter() + a.interval / 2 < end:
            t = threading.Thread(target=long_prompt, args=([rng.randrange(vocab) for _ in range(a.long_tokens)],))
            t.start()
            longs.append(t)
            time.sleep(a.interval)
        for t in workers:
            t.join()
        elapsed = time.perf_counter() - started  # the decoding window
        for t in longs:
            t.join()
        gaps.sort()
        p50 = statistics.median(gaps)
        p99 = gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))]
        print(json.dumps({"model": a.model, "clients": a.clients, "long_tokens": a.long_tokens, "interval_s": a.interval,
                          "long_prompts": len(ttfts), "decode_tok_s": round(tokens[0] / elapsed, 1),
                          "itl_p50_ms": round(p50 * 1e3, 1), "itl_p99_ms": round(p99 * 1e3, 1),
                          "itl_p99_over_p50": round(p99 / p50, 2),
                          "long_ttft_s": [round(t, 2) for t in sorted(ttfts)]}))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
