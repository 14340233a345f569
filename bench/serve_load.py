"""Load generator for an OpenAI-compatible server (Flint or llama-server), Python stdlib only.

C concurrent clients send R streaming POST /v1/completions requests in all, each with its
own random prompt of W ordinary English words (about W tokens with either tokenizer) and
max_tokens N with ignore_eos and temperature 0, so every request generates exactly N
tokens. The prompts depend only on --seed, so two servers get the same ones. One short
untimed request warms the server up first.

Prints one JSON object: output tok/s (completion tokens of all requests / wall time of the
whole run), TTFT p50/p99 (request sent → first streamed token), ITL p50/p99 (gaps between
streamed tokens, all requests pooled), percentiles by nearest rank, and the server-side
prompt/completion token counts from the streamed `usage` (stream_options.include_usage).

    serve_load.py --url http://127.0.0.1:8080 [--concurrency 32] [--requests 64]
                  [--prompt-words 200] [--max-tokens 128] [--seed 1] [--model NAME]"""
import argparse
import http.client
import json
import math
import random
import statistics
import threading
import time
import urllib.parse
import urllib.request

WORDS = """time year people way day man thing woman life child world school state family student
group country problem hand part place case week company system program question work government
number night point home water room mother area money story fact month lot right study book eye
job word business issue side kind head house service friend father power hour game line end
member law car city community name president team minute idea kid body information back parent
face others level office door health person art war history party result change morning reason
research girl guy moment air teacher force education foot boy age policy music market sense
nation plan college interest death experience effect class control care field development role
effort rate heart drug show leader light voice wife police mind price report decision son view
relationship town road arm difference value building action model season society tax director
position player record paper space ground form event official matter center couple site project
activity star table need court oil situation cost industry figure street image phone data picture
practice piece land product doctor wall patient worker news test movie north love support
technology step baby computer type attention film tree source organization hair window evidence
population truth song river garden bridge winter summer ocean mountain island forest village
kitchen letter color animal flower stone glass paper engine train ship bread apple dinner
quickly slowly often never always early late happy small large young old green blue simple
strong quiet bright heavy warm cold open close build write read learn teach travel carry""".split()


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def prompt_for(seed, i, words):
    rng = random.Random(seed * 1_000_003 + i)
    return " ".join(rng.choice(WORDS) for _ in range(words))


def stream_one(url, model, prompt, max_tokens):
    """One streaming request; returns (ttft, gaps, usage, n_chunks)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                       "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("HTTP %d: %s" % (resp.status, resp.read()[:300]))
    stamps, usage = [], None
    for raw in resp:
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        event = json.loads(data)
        if event.get("choices"):
            stamps.append(time.perf_counter())
        if event.get("usage"):
            usage = event["usage"]
    conn.close()
    if not stamps:
        raise RuntimeError("no tokens streamed")
    return stamps[0] - t0, [b - a for a, b in zip(stamps, stamps[1:])], usage, len(stamps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--model", help="model id to send (default: the first of GET /v1/models)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--prompt-words", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    model = a.model
    if not model:
        with urllib.request.urlopen(a.url + "/v1/models", timeout=30) as r:
            model = json.load(r)["data"][0]["id"]
    stream_one(a.url, model, prompt_for(a.seed, -1, 16), 8)  # warm-up, untimed

    results, errors, lock, next_i = [], [], threading.Lock(), [0]

    def client():
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= a.requests:
                return
            try:
                r = stream_one(a.url, model, prompt_for(a.seed, i, a.prompt_words), a.max_tokens)
                with lock:
                    results.append(r)
            except Exception as e:  # reported, and the run fails
                with lock:
                    errors.append(repr(e))

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start

    ttft = [r[0] for r in results]
    gaps = [g for r in results for g in r[1]]
    usages = [r[2] for r in results if r[2]]
    completion = sum(u["completion_tokens"] for u in usages) if len(usages) == len(results) else sum(r[3] for r in results)
    print(json.dumps({
        "model": model, "requests": len(results), "errors": errors[:5], "n_errors": len(errors),
        "concurrency": a.concurrency, "wall_s": wall, "completion_tokens": completion,
        "output_tps": completion / wall,
        "ttft_p50": percentile(ttft, 50), "ttft_p99": percentile(ttft, 99),
        "itl_p50": percentile(gaps, 50), "itl_p99": percentile(gaps, 99),
        "streamed_chunks_mean": statistics.mean(r[3] for r in results) if results else 0,
        "prompt_tokens_mean": statistics.mean(u["prompt_tokens"] for u in usages) if usages else None,
        "completion_tokens_mean": statistics.mean(u["completion_tokens"] for u in usages) if usages else None,
    }))


if __name__ == "__main__":
    main()
