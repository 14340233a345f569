#!/usr/bin/env python3
"""Code-edit benchmark for speculative decoding (issue 21), Python stdlib only.

Each task of bench/code-edit/tasks.json (one source file, one edit instruction) is sent as
ONE streaming /v1/chat/completions request: the edit instruction and the file in a fenced
block, temperature 0, max_tokens = 2 x (len(file) // 3) + 64. The answer is the whole edited
file, mostly a copy of the input: the case that predicted outputs and n-gram or draft-model
speculation are for. Modes, each against a server process of its own, started and stopped
here, one at a time:

  flint-base        flint serve --model M                       (no speculation)
  flint-prediction  same server; requests carry prediction = the original file
  flint-ngram       flint serve --model M --speculative ngram
  flint-draft       flint serve --model M --draft-model D       (unavailable if the flag is unknown)
  llama-base        llama-server -m M.gguf                      (no speculation)
  llama-ngram       llama-server ... --spec-type ngram-simple   (n-gram self-speculation)
  llama-draft       llama-server ... -md D.gguf --spec-type draft-simple   (llama.cpp's draft defaults)

Per request, client side: TTFT (request sent -> first content delta), decode time (first ->
last content delta), emitted completion tokens (Flint: usage.completion_tokens minus
completion_tokens_details.rejected_prediction_tokens, which OpenAI-style usage counts as
completion tokens; llama-server: usage.completion_tokens), output tok/s = (emitted - 1) /
decode time, the acceptance rate where the server reports one (Flint prediction: usage's
accepted / (accepted + rejected); Flint ngram/draft: /metrics spec_decode counters before and
after the request; llama-server: timings.draft_n_accepted / draft_n), and whether the text
is identical to its base mode's (greedy speculation is lossless, so a difference is flagged).
Each server first gets one short untimed warm-up request.

    bench/code_edit.py [--flint .build/release/flint] [--llama-server BIN] [--isa native|avx2]
                       [--model qwen2.5-coder-1.5b-instruct] [--draft-model qwen2.5-coder-0.5b-instruct]
                       [--threads 2] [--ctx 8192] [--modes flint-base,llama-base,...]
                       [--tasks lru.go,...] [--extra-flint-args "..."] [--extra-llama-args "..."]
                       [--json PATH]

Without --llama-server, llama-server comes from bench/llamacpp-build.sh (built on first use);
bench/code-edit.sh is the wrapper that does so ahead of time."""
from __future__ import annotations

import argparse
import contextlib
import difflib
import http.client
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

from flint_process import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
TASK_DIR = os.path.join(HERE, "code-edit")
SYSTEM = "You are a careful programmer. Reply with the complete edited file only, in one fenced code block, no explanations."
LANGS = {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".c": "c", ".h": "c",
         ".rs": "rust", ".swift": "swift"}
MODES = ["flint-base", "flint-prediction", "flint-ngram", "flint-draft", "llama-base", "llama-ngram", "llama-draft"]
SPEC_PROPOSED = "flint:spec_decode_num_draft_tokens_total"
SPEC_ACCEPTED = "flint:spec_decode_num_accepted_tokens_total"


class Unavailable(Exception):
    """A mode whose server did not start."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def first_error_line(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for l in lines:
        if re.search(r"error|unknown|invalid|unrecognized|missing|not found|cannot|failed", l, re.I):
            return l[:300]
    return (lines[0] if lines else "exited without output")[:300]


@contextlib.contextmanager
def server(name, cmd, env=None, startup_s=600):
    """Runs cmd (listening on the port it names) until /health answers 200; yields the port.
    Its output goes to a temporary log (read for the error when it does not start)."""
    port = int(cmd[cmd.index("--port") + 1])
    logf = tempfile.NamedTemporaryFile(prefix="code-edit-%s-" % name, suffix=".log", delete=False)
    log("starting %s: %s" % (name, " ".join(shlex.quote(c) for c in cmd)))
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        deadline = time.time() + startup_s
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/health")
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                with open(logf.name, errors="replace") as f:
                    text = f.read()
                why = "exit %s" % proc.returncode if proc.returncode is not None else "not healthy after %ds" % startup_s
                raise Unavailable("%s (%s): %s" % (name, why, first_error_line(text)))
            time.sleep(0.25)
        yield port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        logf.close()
        os.unlink(logf.name)


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    c.close()
    return r.status, body


def spec_counters(port):
    """(proposed, accepted) summed over all proposers, from Flint's /metrics; None if absent."""
    status, body = get(port, "/metrics")
    if status != 200:
        return None
    sums = {SPEC_PROPOSED: 0.0, SPEC_ACCEPTED: 0.0}
    for line in body.splitlines():
        m = re.match(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m and m.group(1) in sums:
            sums[m.group(1)] += float(m.group(3))
    return sums[SPEC_PROPOSED], sums[SPEC_ACCEPTED]


def chat_stream(port, model, messages, max_tokens, prediction=None):
    """One streaming chat completion; returns a dict of times, text, usage, timings."""
    body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}}
    if prediction is not None:
        body["prediction"] = {"type": "content", "content": prediction}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("HTTP %d: %s" % (resp.status, resp.read()[:300].decode(errors="replace")))
    first = last = None
    parts, usage, timings, finish, n_deltas = [], None, None, None, 0
    for raw in resp:
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        event = json.loads(data)
        for choice in event.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                now = time.perf_counter()
                first = first if first is not None else now
                last = now
                parts.append(content)
                n_deltas += 1
            finish = choice.get("finish_reason") or finish
        if event.get("usage"):
            usage = event["usage"]
        if event.get("timings"):
            timings = event["timings"]
    end = time.perf_counter()
    conn.close()
    if first is None:
        raise RuntimeError("no content streamed")
    return {"ttft_s": first - t0, "decode_s": last - first, "total_s": end - t0, "text": "".join(parts),
            "usage": usage, "timings": timings, "finish_reason": finish, "deltas": n_deltas}


def load_tasks(names):
    with open(os.path.join(TASK_DIR, "tasks.json")) as f:
        tasks = json.load(f)
    if names:
        wanted = names.split(",")
        unknown = set(wanted) - {t["file"] for t in tasks}
        if unknown:
            sys.exit("unknown task file(s): %s" % ", ".join(sorted(unknown)))
        tasks = [t for t in tasks if t["file"] in wanted]
    for t in tasks:
        with open(os.path.join(TASK_DIR, t["file"])) as f:
            t["text"] = f.read()
        lang = LANGS.get(os.path.splitext(t["file"])[1], "")
        t["messages"] = [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": t["instruction"] + "\n\n```" + lang + "\n" + t["text"] + "\n```"}]
        t["max_tokens"] = 2 * (len(t["text"]) // 3) + 64
    return tasks


def flint_home():
    return os.environ.get("FLINT_HOME") or os.path.expanduser("~/.cache/flint")


def gguf_path(flint, model):
    """The GGUF file of a path or a catalog name (ModelCatalog.path(of:)), pulled if missing."""
    if os.path.isfile(model):
        return model
    path = os.path.join(flint_home(), "models", model + ".gguf")
    if os.path.isfile(path):
        return path
    if not os.access(flint, os.X_OK):
        raise Unavailable("%s is not at %s and %s is missing to pull it" % (model, path, flint))
    log("pulling %s..." % model)
    out = subprocess.run([flint, "pull", model], check=True, stdout=subprocess.PIPE, text=True).stdout
    return out.strip().splitlines()[-1] if out.strip() else path


def llama_server_bin(isa):
    cmd = 'source bench/llamacpp-build.sh && llamacpp_server_bin "$0"'
    out = subprocess.run(["bash", "-c", cmd, isa], cwd=os.path.dirname(HERE), check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return out.strip().splitlines()[-1]


def server_command(mode, a, port):
    """(argv, env) of the server of a mode."""
    if mode.startswith("flint-"):
        cmd = [a.flint, "serve", "--model", a.model, "--host", "127.0.0.1", "--port", str(port),
               "--threads", str(a.threads)]
        if mode == "flint-ngram":
            cmd += ["--speculative", "ngram"]
        elif mode == "flint-draft":
            cmd += ["--draft-model", a.draft_model]
        cmd += shlex.split(a.extra_flint_args)
        return cmd, ({"FLINT_KERNELS_ISA": "avx2"} if a.isa == "avx2" else {})
    if not a.llama_server:
        a.llama_server = llama_server_bin(a.isa)
    cmd = [a.llama_server, "-m", gguf_path(a.flint, a.model), "--host", "127.0.0.1", "--port", str(port),
           "-t", str(a.threads), "-tb", str(a.threads), "-c", str(a.ctx), "-np", "1"]
    if mode == "llama-ngram":
        cmd += shlex.split(a.llama_ngram_args)
    elif mode == "llama-draft":
        cmd += ["-md", gguf_path(a.flint, a.draft_model)] + shlex.split(a.llama_draft_args)
    cmd += shlex.split(a.extra_llama_args)
    return cmd, {}


def run_mode(mode, a, tasks):
    """Results of every task in one mode (one server process)."""
    cmd, env = server_command(mode, a, free_port())
    results = []
    with server(mode, cmd, env) as port:
        models = json.loads(get(port, "/v1/models")[1])["data"]
        model = models[0]["id"] if models else a.model
        try:  # warm-up, untimed
            chat_stream(port, model, [{"role": "user", "content": "Say hi."}], 4)
        except Exception as e:
            log("  %s warm-up failed: %r" % (mode, e))
        for t in tasks:
            r = {"mode": mode, "task": t["file"], "kind": t["kind"], "max_tokens": t["max_tokens"]}
            before = spec_counters(port) if mode in ("flint-ngram", "flint-draft") else None
            try:
                s = chat_stream(port, model, t["messages"], t["max_tokens"],
                                prediction=t["text"] if mode == "flint-prediction" else None)
            except Exception as e:  # recorded; the other tasks go on
                r["error"] = repr(e)[:300]
                log("  %s %s: %s" % (mode, t["file"], r["error"]))
                results.append(r)
                continue
            r.update(s)
            u = s["usage"] or {}
            details = u.get("completion_tokens_details") or {}
            rejected = details.get("rejected_prediction_tokens") or 0
            accepted = details.get("accepted_prediction_tokens") or 0
            r["prompt_tokens"] = u.get("prompt_tokens")
            r["completion_tokens"] = u.get("completion_tokens")
            emitted = u.get("completion_tokens", s["deltas"])
            if mode.startswith("flint-"):
                emitted -= rejected
            r["emitted_tokens"] = emitted
            r["tok_s"] = (emitted - 1) / s["decode_s"] if s["decode_s"] > 0 else None
            if mode == "flint-prediction":
                r["proposed"], r["accepted"] = accepted + rejected, accepted
            elif before is not None:
                after = spec_counters(port)
                if after is not None:
                    r["proposed"], r["accepted"] = after[0] - before[0], after[1] - before[1]
            elif mode in ("llama-ngram", "llama-draft") and s["timings"] is not None:  # no draft_n: none proposed
                r["proposed"], r["accepted"] = s["timings"].get("draft_n", 0), s["timings"].get("draft_n_accepted", 0)
            if r.get("proposed"):
                r["acceptance"] = r["accepted"] / r["proposed"]
            sm = difflib.SequenceMatcher(None, t["text"].splitlines(), strip_fence(s["text"]).splitlines(), autojunk=False)
            r["lines_changed"] = sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in sm.get_opcodes() if op != "equal")
            log("  %-16s %-16s TTFT %6.2fs decode %7.2fs  %5d tokens  %6.2f tok/s%s" % (
                mode, t["file"], s["ttft_s"], s["decode_s"], emitted, r["tok_s"] or 0,
                "  accept %.0f%%" % (100 * r["acceptance"]) if "acceptance" in r else ""))
            results.append(r)
    return results


def strip_fence(text):
    """The body of the first fenced code block (the whole text if there is none)."""
    m = re.search(r"```[^\n]*\n(.*?)(?:\n```|$)", text, re.S)
    return m.group(1) if m else text


def base_of(mode):
    return "flint-base" if mode.startswith("flint-") else "llama-base"


def report(tasks, modes, results, unavailable):
    by = {(r["task"], r["mode"]): r for r in results}
    for t in tasks:
        print("\n%s (%s): %s" % (t["file"], t["kind"], t["instruction"][:100] + ("..." if len(t["instruction"]) > 100 else "")))
        prompt = next((by[(t["file"], m)].get("prompt_tokens") for m in modes if (t["file"], m) in by), None)
        print("prompt %s tokens, max_tokens %d" % (prompt, t["max_tokens"]))
        print("%-17s %8s %9s %8s %8s %8s %7s %8s %7s %9s" % ("mode", "TTFT s", "decode s", "emitted", "tok/s",
                                                          "accept", "vs base", "same", "changed", "finish"))
        for m in modes:
            if m in unavailable:
                print("%-17s unavailable: %s" % (m, unavailable[m]))
                continue
            r = by.get((t["file"], m))
            if r is None:
                continue
            if "error" in r:
                print("%-17s error: %s" % (m, r["error"]))
                continue
            base = by.get((t["file"], base_of(m)))
            ok_base = base is not None and "error" not in base
            same = "ref" if m == base_of(m) else ("yes" if r["text"] == base["text"] else "DIFFERS") if ok_base else "-"
            ratio = r["tok_s"] / base["tok_s"] if ok_base and r["tok_s"] and base["tok_s"] else None
            print("%-17s %8.2f %9.2f %8d %8.2f %8s %7s %8s %7d %9s" % (
                m, r["ttft_s"], r["decode_s"], r["emitted_tokens"], r["tok_s"] or 0,
                "%.0f%%" % (100 * r["acceptance"]) if "acceptance" in r else "-",
                "%.2fx" % ratio if ratio else "-", same, r["lines_changed"], r["finish_reason"]))

    summary = {}
    for m in modes:
        rs = [r for r in results if r["mode"] == m and "error" not in r]
        if not rs:
            continue
        decode = sum(r["decode_s"] for r in rs)
        proposed = sum(r.get("proposed", 0) for r in rs)
        summary[m] = {"tasks": len(rs), "emitted_tokens": sum(r["emitted_tokens"] for r in rs), "decode_s": decode,
                      "tok_s": sum(r["emitted_tokens"] for r in rs) / decode if decode > 0 else None,
                      "ttft_s": sum(r["ttft_s"] for r in rs), "total_s": sum(r["total_s"] for r in rs),
                      "acceptance": sum(r.get("accepted", 0) for r in rs) / proposed if proposed else None,
                      "differs_from_base": [r["task"] for r in rs if m != base_of(m) and (r["task"], base_of(m)) in by
                                            and "error" not in by[(r["task"], base_of(m))]
                                            and r["text"] != by[(r["task"], base_of(m))]["text"]]}
    print("\nsummary (tok/s = sum of emitted tokens / sum of decode time; ratios of tok/s)")
    print("%-17s %6s %8s %9s %8s %8s %8s %9s %10s" % ("mode", "tasks", "emitted", "decode s", "tok/s", "accept",
                                                    "vs base", "vs llama", "total s"))
    lb = summary.get("llama-base", {}).get("tok_s")
    for m, s in summary.items():
        b = summary.get(base_of(m), {}).get("tok_s")
        vs_base = s["tok_s"] / b if b and s["tok_s"] and m != base_of(m) else None
        vs_llama = s["tok_s"] / lb if lb and s["tok_s"] and m.startswith("flint-") else None
        s["vs_base"], s["vs_llama_base"] = vs_base, vs_llama
        print("%-17s %6d %8d %9.2f %8.2f %8s %8s %9s %10.1f" % (
            m, s["tasks"], s["emitted_tokens"], s["decode_s"], s["tok_s"] or 0,
            "%.0f%%" % (100 * s["acceptance"]) if s["acceptance"] is not None else "-",
            "%.2fx" % vs_base if vs_base else "-", "%.2fx" % vs_llama if vs_llama else "-", s["total_s"]))
    for m, why in unavailable.items():
        print("%-17s unavailable: %s" % (m, why))
    flagged = {m: s["differs_from_base"] for m, s in summary.items() if s["differs_from_base"]}
    for m, ts in flagged.items():
        print("WARNING: %s output differs from %s on %s (greedy speculation should be lossless)" % (m, base_of(m), ", ".join(ts)))
    return summary


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally blocks stop the server
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flint", default=".build/release/flint")
    ap.add_argument("--llama-server", help="llama-server binary (default: bench/llamacpp-build.sh's for --isa)")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct", help="catalog name or GGUF path")
    ap.add_argument("--draft-model", default="qwen2.5-coder-0.5b-instruct", help="catalog name or GGUF path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=8192, help="llama-server context (-c)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--tasks", default="", help="comma list of task file names (default: all)")
    ap.add_argument("--isa", choices=["native", "avx2"], default="native")
    ap.add_argument("--extra-flint-args", default="", help="more `flint serve` flags, for every flint mode")
    ap.add_argument("--extra-llama-args", default="", help="more llama-server flags, for every llama mode")
    ap.add_argument("--llama-ngram-args", default="--spec-type ngram-simple", help="llama-ngram's flags")
    ap.add_argument("--llama-draft-args", default="--spec-type draft-simple",
                    help="llama-draft's flags besides -md (-md alone enables no speculation in this llama.cpp)")
    ap.add_argument("--json", help="write every raw number here")
    a = ap.parse_args()
    modes = a.modes.split(",")
    unknown = set(modes) - set(MODES)
    if unknown:
        sys.exit("unknown mode(s): %s (modes: %s)" % (", ".join(sorted(unknown)), ", ".join(MODES)))
    modes = [m for m in MODES if m in modes]
    tasks = load_tasks(a.tasks)
    for t in tasks:
        if len(t["text"]) // 2 + t["max_tokens"] > a.ctx and any(m.startswith("llama-") for m in modes):
            log("warning: %s may not fit llama-server's -c %d" % (t["file"], a.ctx))

    results, unavailable = [], {}
    for m in modes:
        try:
            results += run_mode(m, a, tasks)
        except (Unavailable, OSError, subprocess.CalledProcessError) as e:
            unavailable[m] = str(e)
            log("  %s unavailable: %s" % (m, e))
    summary = report(tasks, modes, results, unavailable)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"config": {k: v for k, v in vars(a).items()}, "modes": modes,
                       "tasks": [{k: t[k] for k in ("file", "kind", "instruction", "max_tokens")} for t in tasks],
                       "results": results, "unavailable": unavailable, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
