#!/usr/bin/env python3
"""Do decoding streams keep flowing while long prompts arrive? (issue 20)

Starts `flint serve` (.build/release/flint, or --binary), then for --seconds:
--clients streaming clients each decode one completion after another (a --prompt-tokens
random prompt, --max-tokens tokens, ignore_eos), while every --interval seconds one prompt of
--long-tokens random tokens arrives (streamed, 1 new token). Reports the decoding streams'
inter-token latency (gaps between streamed tokens) p50/p99 and their ratio, their output
tok/s over their window, and each long prompt's time to first token (the ones still queued
when the decoders stop are waited for), as one JSON object. Requests are serve_load.py's.

    bench/decode-under-prefill.py [--model smollm2-135m-instruct] [--clients 16] [--long-tokens 6000]
                                  [--interval 5] [--seconds 60] [--threads 2] [-- extra serve flags]
Standard library only."""
import argparse
import json
import random
import sys
import threading
import time

from flint_process import flint_serve
from serve_load import percentile, stream_one


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

    with flint_serve(a.binary, a.model, ["--threads", str(a.threads), "--max-queue", "1024", *a.serve_args]) as port:
        url = "http://127.0.0.1:%d" % port
        vocab = 32000  # random ids below every catalog vocabulary, so no prompt hits the prefix cache
        lock = threading.Lock()
        gaps, ttfts = [], []
        tokens = [0]
        end = time.perf_counter() + a.seconds

        def decoder(seed):
            rng = random.Random(seed)
            while time.perf_counter() < end:
                _, g, _, n = stream_one(url, a.model, [rng.randrange(vocab) for _ in range(a.prompt_tokens)], a.max_tokens)
                with lock:
                    gaps.extend(g)
                    tokens[0] += n

        def long_prompt(prompt):
            ttft = stream_one(url, a.model, prompt, 1)[0]
            with lock:
                ttfts.append(ttft)

        workers = [threading.Thread(target=decoder, args=(i,)) for i in range(a.clients)]
        for w in workers:
            w.start()
        started = time.perf_counter()
        time.sleep(min(a.interval, a.seconds / 4))  # decoders first, then the long prompts
        rng = random.Random(-1)
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
        p50, p99 = percentile(gaps, 50), percentile(gaps, 99)
        print(json.dumps({"model": a.model, "clients": a.clients, "long_tokens": a.long_tokens, "interval_s": a.interval,
                          "long_prompts": len(ttfts), "decode_tok_s": round(tokens[0] / elapsed, 1),
                          "itl_p50_ms": round(p50 * 1e3, 1), "itl_p99_ms": round(p99 * 1e3, 1),
                          "itl_p99_over_p50": round(p99 / p50, 2),
                          "long_ttft_s": [round(t, 2) for t in sorted(ttfts)]}))


if __name__ == "__main__":
    sys.exit(main())
