"""Times llama.cpp through llama-cpp-python's low-level API (no Python-side logits
copies), the way `flint bench` times Flint: prompt processing of P random tokens in
one batch, generation of N tokens one at a time, and (with a sixth argument such as
"1,8,32") batched decoding: B sequences advanced together, one token each per decode
call with logits for every row, for min(N, 64) timed steps after one untimed step, as
`flint bench -b` does. With --depth D, pp and tg run after D tokens already in the
KV cache (decoded untimed first), as llama-bench's -d and `flint bench -d`. Mean and
standard deviation over repetitions; prints one JSON array with llama-bench's field names.

    llamacpp_bench.py MODEL THREADS P N REPETITIONS [BATCHES] [--depth D]
                      [--flash-attn auto|on|off] [--cache-type f16|q8_0]"""
import argparse
import ctypes
import json
import random
import statistics
import time

import llama_cpp as L


def main():
    ap = argparse.ArgumentParser()
    for name in ("model", "threads", "p", "n", "reps"):
        ap.add_argument(name)
    ap.add_argument("batches", nargs="?", default="")
    ap.add_argument("--depth", type=int, default=0)
    ap.add_argument("--flash-attn", choices=["auto", "on", "off"], default="auto")
    ap.add_argument("--cache-type", choices=["f16", "q8_0"], default="f16")
    a = ap.parse_args()
    path, threads, p, n, reps, depth = a.model, int(a.threads), int(a.p), int(a.n), int(a.reps), a.depth
    batches = [int(b) for b in a.batches.split(",")] if a.batches else []
    steps = max(16, min(n, 64))
    _quiet = L.llama_log_callback(lambda level, text, data: None)
    L.llama_log_set(_quiet, ctypes.c_void_p(0))
    L.llama_backend_init()
    model = L.llama_model_load_from_file(path.encode(), L.llama_model_default_params())
    cp = L.llama_context_default_params()
    cp.n_ctx = max(512, depth + p + n + 16, max(batches, default=0) * (steps + 16))
    cp.n_batch = cp.n_ubatch = max(512, p)
    cp.n_seq_max = max(batches, default=1)
    cp.n_threads = cp.n_threads_batch = threads
    cp.flash_attn_type = {"auto": L.LLAMA_FLASH_ATTN_TYPE_AUTO, "on": L.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                          "off": L.LLAMA_FLASH_ATTN_TYPE_DISABLED}[a.flash_attn]
    cp.type_k = cp.type_v = {"f16": L.GGML_TYPE_F16, "q8_0": L.GGML_TYPE_Q8_0}[a.cache_type]
    ctx = L.llama_init_from_model(model, cp)
    vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    memory = L.llama_get_memory(ctx)
    rng = random.Random(1)
    prompt = [rng.randrange(vocab) for _ in range(p)]

    def decode(tokens):
        arr = (L.llama_token * len(tokens))(*tokens)
        if L.llama_decode(ctx, L.llama_batch_get_one(arr, len(tokens))) != 0:
            raise RuntimeError("llama_decode failed")

    context = [rng.randrange(vocab) for _ in range(depth)]

    def fill():
        """An empty cache, then `depth` tokens in it (untimed)."""
        L.llama_memory_clear(memory, True)
        for i in range(0, depth, cp.n_batch):
            decode(context[i:i + cp.n_batch])

    suffix = "@d%d" % depth if depth else ""
    results = []
    if p > 0:
        decode(prompt[:16])  # warm-up
        samples = []
        for _ in range(reps):
            fill()
            t = time.perf_counter()
            decode(prompt)
            samples.append(p / (time.perf_counter() - t))
        results.append(("pp%d%s" % (p, suffix), p, 0, samples, 1))
    if n > 0:
        samples = []
        for _ in range(reps):
            fill()
            decode([prompt[0] if prompt else 1])
            t = time.perf_counter()
            for _ in range(n):
                decode([rng.randrange(vocab)])
            samples.append(n / (time.perf_counter() - t))
        results.append(("tg%d%s" % (n, suffix), 0, n, samples, 1))
    for b in batches:
        batch = L.llama_batch_init(b, 0, 1)
        batch.n_tokens = b

        def step(pos):
            for s in range(b):
                batch.token[s] = rng.randrange(vocab)
                batch.pos[s] = pos
                batch.n_seq_id[s] = 1
                batch.seq_id[s][0] = s
                batch.logits[s] = 1
            if L.llama_decode(ctx, batch) != 0:
                raise RuntimeError("llama_decode failed (batch %d)" % b)

        samples = []
        for _ in range(reps):
            L.llama_memory_clear(memory, True)
            step(0)  # untimed, as flint bench's warm-up step
            t = time.perf_counter()
            for pos in range(1, steps + 1):
                step(pos)
            samples.append(b * steps / (time.perf_counter() - t))
        L.llama_batch_free(batch)
        results.append(("batch%d" % b, 0, steps, samples, b))
    print(json.dumps([{"test": name, "n_prompt": np_, "n_gen": ng, "n_batch": nb, "n_depth": depth, "n_threads": threads,
                       "avg_ts": statistics.mean(s), "stddev_ts": statistics.stdev(s) if len(s) > 1 else 0.0}
                      for name, np_, ng, s, nb in results]))


if __name__ == "__main__":
    main()
