"""Writes rope-scaling-reference.json: llama.cpp's logits for one prompt on catalog models
run with rotary scaling their files do not ask for (metadata overridden as llama.cpp's
--override-kv does), for Tests/FlintModelsTests/RopeScalingReferenceTests.swift.

    PYTHONPATH=$(source bench/llamacpp-build.sh; llamacpp_python_dir native) \\
        python3 Tests/Fixtures/make_rope_scaling_reference.py > Tests/Fixtures/rope-scaling-reference.json

llama-cpp-python 0.3.36 (its vendored llama.cpp), CPU, 2 threads, no flash attention (the
arithmetic Flint follows), the prompt in one batch; logits of the prompt's last position:
the top 10 of each case, and of the unscaled model, whose distance shows what scaling moves."""
import json
import os
import sys

import llama_cpp

MODELS = {"smollm2-135m-instruct": "llama", "qwen2.5-coder-0.5b-instruct": "qwen2", "gemma-3-270m": "gemma3"}
CASES = {
    "none": {},
    "linear-2": {"rope.scaling.type": "linear", "rope.scaling.factor": 2.0},
    "yarn-4": {"rope.scaling.type": "yarn", "rope.scaling.factor": 4.0, "rope.scaling.original_context_length": 2048},
}
HOME = os.environ.get("FLINT_HOME", os.path.expanduser("~/.cache/flint"))
TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kjv-genesis.txt")


def main():
    text = open(TEXT, encoding="utf-8").read()[:1200]
    out = {}
    for name, arch in MODELS.items():
        path = os.path.join(HOME, "models", name + ".gguf")
        cases = {}
        prompt = None
        for case, keys in CASES.items():
            overrides = {"%s.%s" % (arch, k): v for k, v in keys.items()}
            llm = llama_cpp.Llama(model_path=path, n_ctx=1024, n_batch=512, n_ubatch=512, n_threads=2, n_threads_batch=2,
                                  flash_attn=False, kv_overrides=overrides or None, logits_all=True, verbose=False)
            if prompt is None:
                prompt = llm.tokenize(text.encode(), add_bos=True, special=False)[:128]
            llm.eval(prompt)
            logits = llm.scores[len(prompt) - 1].tolist()
            top = sorted(range(len(logits)), key=lambda i: -logits[i])[:10]
            cases[case] = {"overrides": keys, "top10_ids": top, "top10_logits": [round(logits[i], 5) for i in top]}
            del llm
        out[name] = {"prompt_ids": prompt, "cases": cases}
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
