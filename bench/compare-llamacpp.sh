#!/usr/bin/env bash
# Flint and llama.cpp side by side on the catalog models, same machine, same run,
# same thread count: prompt processing (pp) and generation (tg) in tokens/s and the
# ratio Flint / llama.cpp, plus the generation roofline (measured memory read
# bandwidth / weight bytes read per token).
#
# Then batched decode on one model (--batched-model, default smollm2-135m-instruct), both
# engines: aggregate tok/s at batch 1, 8 and 32, the ratio Flint / llama.cpp, and each
# engine's figure as a multiple of its own batch 1.
#
#   bench/compare-llamacpp.sh [--threads 2] [-p 256] [-n 128] [--repetitions 3] [--batched-model M] [models...]
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2; p=256; n=128; reps=3; models=(); batched=smollm2-135m-instruct
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        -p) p=$2; shift 2 ;;
        -n) n=$2; shift 2 ;;
        --repetitions) reps=$2; shift 2 ;;
        --batched-model) batched=$2; shift 2 ;;
        *) models+=("$1"); shift ;;
    esac
done
[ ${#models[@]} -gt 0 ] || models=(smollm2-135m-instruct gemma-3-270m qwen2.5-coder-0.5b-instruct)

if ! python3 -c "import llama_cpp" 2>/dev/null; then
    echo "installing llama-cpp-python (builds llama.cpp from source, ~10 minutes)..." >&2
    # A portable AVX2/AVX-512 build: the native build enables AMX, which crashes
    # where the kernel does not grant AMX state.
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON" \
        python3 -m pip install --no-cache-dir llama-cpp-python==0.3.36 >&2
fi

swift build -c release --product flint >&2
flint=.build/release/flint

printf '%-30s %-6s %14s %14s %7s\n' model test "flint t/s" "llama.cpp t/s" ratio
for m in "${models[@]}"; do
    path=$($flint pull "$m")
    fj=$($flint bench --model "$path" -p "$p" -n "$n" --threads "$threads" --repetitions "$reps" --json)
    lj=$(python3 bench/llamacpp_bench.py "$path" "$threads" "$p" "$n" "$reps")
    rj=$($flint bench --model "$path" --threads "$threads" --roofline --json)
    python3 - "$m" "$fj" "$lj" "$rj" <<'PY'
import json, sys
name, f, l, roof = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
lt = {r["test"]: r for r in l}
for r in f:
    o = lt.get(r["test"])
    if not o: continue
    print("%-30s %-6s %8.1f ± %-4.1f %8.1f ± %-4.1f %6.2fx" % (name, r["test"], r["avg_ts"], r["stddev_ts"],
          o["avg_ts"], o["stddev_ts"], r["avg_ts"] / o["avg_ts"]))
tg = [r for r in f if r["test"].startswith("tg")]
if tg:
    print("%-30s roofline %.1f tok/s (%.1f GB/s read / %.1f MB per token): Flint tg at %.0f%%, llama.cpp at %.0f%%" % (
        name, roof["roofline_tg_ts"], roof["read_bandwidth_gbs"], roof["weight_bytes_per_token"] / 1e6,
        100 * tg[0]["avg_ts"] / roof["roofline_tg_ts"], 100 * lt[tg[0]["test"]]["avg_ts"] / roof["roofline_tg_ts"]))
PY
done

path=$($flint pull "$batched")
bj=$($flint bench --model "$path" -p 0 -n "$n" -b 1,8,32 --threads "$threads" --repetitions "$reps" --json)
blj=$(python3 bench/llamacpp_bench.py "$path" "$threads" 0 "$n" "$reps" 1,8,32)
python3 - "$batched" "$bj" "$blj" <<'PY'
import json, sys
name = sys.argv[1]
f, l = ([r for r in json.loads(a) if r["test"].startswith("batch")] for a in sys.argv[2:4])
lt = {r["test"]: r for r in l}
fb = next((r["avg_ts"] for r in f if r["n_batch"] == 1), None)
lb = next((r["avg_ts"] for r in l if r["n_batch"] == 1), None)
print()
print("%-30s %-8s %14s %14s %7s %10s %10s" % ("batched decode", "test", "flint t/s", "llama.cpp t/s", "ratio",
                                              "flint xb1", "llama xb1"))
for r in f:
    o = lt.get(r["test"])
    if not o: continue
    print("%-30s %-8s %8.1f ± %-4.1f %8.1f ± %-4.1f %6.2fx %9.2fx %9.2fx" % (
        name, r["test"], r["avg_ts"], r["stddev_ts"], o["avg_ts"], o["stddev_ts"], r["avg_ts"] / o["avg_ts"],
        r["avg_ts"] / fb if fb else 0, o["avg_ts"] / lb if lb else 0))
PY
