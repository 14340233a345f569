"""Times llama.cpp (through llama-cpp-python) the way `flint bench` times Flint:
prompt processing of P random tokens and generation of N tokens one at a time,
mean and standard deviation over repetitions. Prints one JSON array."""
import json
import random
import statistics
import sys
import time

from llama_cpp import Llama


def main():
    path, threads, p, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    llm = Llama(model_path=path, n_ctx=max(512, p + n + 16), n_batch=512, n_ubatch=512,
                n_threads=threads, n_threads_batch=threads, verbose=False)
    vocab = llm.n_vocab()
    rng = random.Random(1)
    prompt = [rng.randrange(vocab) for _ in range(p)]
    results = []
    if p > 0:
        samples = []
        llm.reset(); llm.eval(prompt[:16])  # warm-up
        for _ in range(reps):
            llm.reset()
            t = time.perf_counter()
            llm.eval(prompt)
            samples.append(p / (time.perf_counter() - t))
        results.append(("pp%d" % p, p, 0, samples))
    if n > 0:
        samples = []
        for _ in range(reps):
            llm.reset()
            llm.eval([prompt[0]])
            t = time.perf_counter()
            for _ in range(n):
                llm.eval([rng.randrange(vocab)])
            samples.append(n / (time.perf_counter() - t))
        results.append(("tg%d" % n, 0, n, samples))
    print(json.dumps([{"test": name, "n_prompt": np_, "n_gen": ng, "n_threads": threads,
                       "avg_ts": statistics.mean(s), "stddev_ts": statistics.stdev(s) if len(s) > 1 else 0.0}
                      for name, np_, ng, s in results]))


if __name__ == "__main__":
    main()
