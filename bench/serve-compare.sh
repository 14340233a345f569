#!/usr/bin/env bash
# Flint's server against llama.cpp's llama-server on the same GGUF file, one after the
# other (never at the same time), same thread count, same load: C concurrent streaming
# clients send R /v1/completions requests in all, each a distinct random ~W-token prompt
# of ordinary words, max_tokens N with ignore_eos and temperature 0 (bench/serve_load.py).
# Reports per server output tok/s (completion tokens / wall time of the whole run), TTFT
# p50/p99, ITL p50/p99, server-side prompt tokens, and the ratio Flint / llama-server
# (tok/s: higher is better for Flint; latencies: lower is better for Flint).
#
#   bench/serve-compare.sh [--isa avx2] [--model smollm2-135m-instruct|PATH.gguf] [--threads 2]
#                          [--concurrency 32] [--requests 64] [--prompt-words 200]
#                          [--max-tokens 128] [--port 8090]
#
# --isa avx2: Flint runs with FLINT_KERNELS_ISA=avx2 and llama-server is the AVX2 build
# (no AVX-512); without it, Flint's default path against llama-server built for this host
# (bench/llamacpp-build.sh, which builds it on first use, ~10 minutes). Flint listens on
# --port, llama-server on --port + 1. Uses the existing .build/release/flint (no build).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/llamacpp-build.sh

isa=""; model=smollm2-135m-instruct; threads=2; conc=32; reqs=64; words=200; maxtok=128; port=8090
while [ $# -gt 0 ]; do
    case "$1" in
        --isa) isa=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --concurrency) conc=$2; shift 2 ;;
        --requests) reqs=$2; shift 2 ;;
        --prompt-words) words=$2; shift 2 ;;
        --max-tokens) maxtok=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
case "$isa" in ""|native) llisa=native ;; avx2) llisa=avx2; export FLINT_KERNELS_ISA=avx2 ;;
    *) echo "--isa must be avx2 or native" >&2; exit 2 ;; esac

flint=.build/release/flint
[ -x "$flint" ] || { echo "$flint is missing: swift build -c release --product flint" >&2; exit 1; }
server=$(llamacpp_server_bin "$llisa")
if [ -f "$model" ]; then path=$model; else path=$("$flint" pull "$model"); fi
logs=$(mktemp -d)

# Servers and the load generator run in the background and are waited for, so that a
# signal is handled at once; stop (on exit, also on error) kills whatever still runs.
pid=""; load=""
stop() {
    local p
    for p in $load $pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    pid=""; load=""
}
trap 'stop; rm -rf "$logs"' EXIT
trap 'exit 130' INT TERM

# start_and_load NAME URL: waits for URL/health (server $pid), runs the load, stops the server.
start_and_load() {
    local name=$1 url=$2
    for _ in $(seq 600); do
        curl -sf "$url/health" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || { echo "$name exited; log:" >&2; tail -20 "$logs/$name.log" >&2; exit 1; }
        sleep 0.5
    done
    curl -sf "$url/health" >/dev/null || { echo "$name not healthy after 300 s" >&2; exit 1; }
    echo "running $name: $conc clients, $reqs requests..." >&2
    python3 bench/serve_load.py --url "$url" --concurrency "$conc" --requests "$reqs" \
        --prompt-words "$words" --max-tokens "$maxtok" >"$logs/$name.json" & load=$!
    wait "$load" || { echo "load generator failed against $name" >&2; exit 1; }
    load=""; stop
}

for p in "$port" $((port + 1)); do
    ! curl -s -o /dev/null "http://127.0.0.1:$p/" || { echo "port $p is in use (--port)" >&2; exit 1; }
done
"$flint" serve --model "$path" --port "$port" --threads "$threads" >"$logs/flint.log" 2>&1 & pid=$!
start_and_load flint "http://127.0.0.1:$port"

ctx=$(( conc * (words + maxtok + 128) ))
"$server" -m "$path" -t "$threads" -tb "$threads" -c "$ctx" -np "$conc" -cb --port $((port + 1)) \
    >"$logs/llama-server.log" 2>&1 & pid=$!
start_and_load llama-server "http://127.0.0.1:$((port + 1))"

# Flint's path: the "isa" of `flint bench --json` where it has one, else FLINT_KERNELS_ISA or "default".
fisa=$("$flint" bench --model "$path" -p 0 -n 1 --repetitions 1 --threads "$threads" --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print((r[0] if isinstance(r,list) and r else r).get("isa",""))')
fisa=${fisa:-${FLINT_KERNELS_ISA:-default}}
lisa="$llisa ($(llamacpp_isa_label "$llisa"))"
echo "$reqs requests, $conc concurrent, ~$words-word prompts, max_tokens $maxtok (ignore_eos), $threads threads"
python3 - "$model" "$fisa" "$lisa" "$logs/flint.json" "$logs/llama-server.json" <<'PY'
import json, sys
name, fisa, lisa = sys.argv[1:4]
f, l = (json.load(open(p)) for p in sys.argv[4:6])
print("model %s; Flint ISA: %s; llama-server ISA: %s" % (name, fisa, lisa))
print("%-13s %10s %10s %10s %10s %10s %12s %8s" % ("server", "out tok/s", "TTFT p50", "TTFT p99",
                                                   "ITL p50", "ITL p99", "prompt tok", "errors"))
for n, r in (("flint", f), ("llama-server", l)):
    print("%-13s %10.1f %8.0fms %8.0fms %8.1fms %8.1fms %12s %8d" % (n, r["output_tps"], r["ttft_p50"] * 1e3,
          r["ttft_p99"] * 1e3, r["itl_p50"] * 1e3, r["itl_p99"] * 1e3,
          "%.0f" % r["prompt_tokens_mean"] if r["prompt_tokens_mean"] else "?", r["n_errors"]))
print("%-13s %9.2fx %9.2fx %9.2fx %9.2fx %9.2fx" % ("flint/llama", *(f[k] / l[k] if l[k] else float("nan")
      for k in ("output_tps", "ttft_p50", "ttft_p99", "itl_p50", "itl_p99"))))
for n, r in (("flint", f), ("llama-server", l)):
    if r["n_errors"]: print("%s errors: %s" % (n, r["errors"]))
PY
