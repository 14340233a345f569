"""Peak memory while generating (issue 3): the resident set of `flint generate` stays
within the model file size + its KV cache + 150 MB, on every catalog model.

The peak comes from the kernel (wait4's ru_maxrss), so it covers the whole run: loading,
prefill and decoding. Weights are memory-mapped, so touched weight pages count as
resident; nothing else may grow with the model beyond the KV cache."""
import json
import os
import re
import subprocess

import pytest

from conftest import _flint_bin

MODELS = ["smollm2-135m-instruct", "gemma-3-270m", "qwen2.5-coder-0.5b-instruct"]
MAX_TOKENS = 256
SLACK = 150 * 1024 * 1024


def _inspect(binary, model):
    out = subprocess.run([str(binary), "inspect", "--model", model], check=True, capture_output=True, text=True).stdout
    path = re.search(r"^file\s+(.+)$", out, re.M).group(1).strip()
    layers = int(re.search(r"^layers\s+(\d+)", out, re.M).group(1))
    m = re.search(r"^attention heads\s+\d+ \(kv (\d+)\), head dim (\d+)", out, re.M)
    return path, layers, int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("model", MODELS)
def test_peak_rss_within_model_plus_kv_plus_150mb(model):
    binary = _flint_bin()
    path, layers, kv_heads, head_dim = _inspect(binary, model)
    cmd = [str(binary), "generate", "--model", model, "--prompt", "Write a long story about a dragon.",
           "--max-tokens", str(MAX_TOKENS), "--temperature", "0.8", "--seed", "1", "--json"]
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=devnull)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, out.decode(errors="replace")
    result = json.loads(out)
    context = result["prompt_tokens"] + MAX_TOKENS + 1
    context = (context + 15) // 16 * 16  # whole 16-token KV blocks
    kv_bytes = layers * 2 * kv_heads * head_dim * 2 * context  # K and V, F16
    file_bytes = os.path.getsize(path)
    peak = usage.ru_maxrss * 1024
    budget = file_bytes + kv_bytes + SLACK
    print(f"{model}: peak RSS {peak / 2**20:.1f} MiB, model file {file_bytes / 2**20:.1f} MiB, "
          f"KV {kv_bytes / 2**20:.1f} MiB, budget {budget / 2**20:.1f} MiB")
    assert peak <= budget
