#!/usr/bin/env bash
# Flint and llama.cpp side by side on the catalog models, same machine, same run,
# same thread count: prompt processing (pp) and generation (tg) in tokens/s and the
# ratio Flint / llama.cpp, plus the generation roofline (measured memory read
# bandwidth / weight bytes read per token).
#
# Then batched decode on one model (--batched-model, default smollm2-135m-instruct; "none"
# skips it), both engines: aggregate tok/s at batch 1, 8 and 32, the ratio Flint / llama.cpp, and each
# engine's figure as a multiple of its own batch 1.
#
#   bench/compare-llamacpp.sh [--isa avx2] [--no-build] [--threads 2] [-p 256] [-n 128] [--repetitions 3]
#                             [-d 0] [--fa auto|on|off] [--cache-type f16|q8_0] [--batched-model M] [models...]
#
# -d D runs pp and tg after D tokens already in the KV cache on both sides (llama-bench's
# -d); --fa sets llama.cpp's flash attention (default auto: llama.cpp decides, which on
# CPU turns it on); --cache-type sets both sides' KV cache type (Flint's --kv-cache-dtype,
# llama.cpp's -ctk/-ctv; llama.cpp needs flash attention for a quantized V cache).
#
# Each side runs its best path for this host unless --isa avx2: then Flint runs with
# FLINT_KERNELS_ISA=avx2 (its AVX2 kernels only) and llama.cpp is an AVX2 build without
# AVX-512, like for like on any x86 host. llama.cpp comes from llama-cpp-python 0.3.36
# built per ISA into a folder of its own (bench/llamacpp-build.sh; ~10 minutes on first
# use), loaded through PYTHONPATH. --no-build uses the existing .build/release/flint.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/llamacpp-build.sh

threads=2; p=256; n=128; reps=3; models=(); batched=smollm2-135m-instruct; isa=""; build=1; depth=0; fa=auto; cache=f16
while [ $# -gt 0 ]; do
    case "$1" in
        --isa) isa=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --threads) threads=$2; shift 2 ;;
        -p) p=$2; shift 2 ;;
        -n) n=$2; shift 2 ;;
        -d) depth=$2; shift 2 ;;
        --fa) fa=$2; shift 2 ;;
        --cache-type) cache=$2; shift 2 ;;
        --repetitions) reps=$2; shift 2 ;;
        --batched-model) batched=$2; shift 2 ;;
        *) models+=("$1"); shift ;;
    esac
done
[ ${#models[@]} -gt 0 ] || models=(smollm2-135m-instruct gemma-3-270m qwen2.5-coder-0.5b-instruct)

case "$isa" in ""|native) llisa=native ;; avx2) llisa=avx2; export FLINT_KERNELS_ISA=avx2 ;;
    *) echo "--isa must be avx2 or native" >&2; exit 2 ;; esac
lcp=$(llamacpp_python_dir "$llisa")
llama() { PYTHONPATH="$lcp${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"; }
[ $build = 0 ] || swift build -c release --product flint >&2
flint=.build/release/flint

lsys=$(llama -c "import llama_cpp; print(llama_cpp.llama_print_system_info().decode().strip())")
echo "llama.cpp ISA: $llisa ($(llamacpp_isa_label "$llisa")), flash attention $fa, KV cache $cache, from $lcp: $lsys"

for m in "${models[@]}"; do
    path=$($flint pull "$m")
    fj=$($flint bench --model "$path" -p "$p" -n "$n" -d "$depth" --threads "$threads" --repetitions "$reps" --kv-cache-dtype "$cache" --json)
    if [ "$m" = "${models[0]}" ]; then
        fisa=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print((r[0] if isinstance(r,list) and r else r).get("isa",""))' "$fj")
        echo "Flint ISA: ${fisa:-${FLINT_KERNELS_ISA:-default}}"
        echo
        printf '%-30s %-12s %14s %14s %7s\n' model test "flint t/s" "llama.cpp t/s" ratio
    fi
    lj=$(llama bench/llamacpp_bench.py "$path" "$threads" "$p" "$n" "$reps" --depth "$depth" --flash-attn "$fa" --cache-type "$cache")
    rj=$($flint bench --model "$path" --threads "$threads" --roofline --json)
    python3 - "$m" "$fj" "$lj" "$rj" <<'PY'
import json, sys
name, f, l, roof = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
lt = {r["test"]: r for r in l}
for r in f:
    o = lt.get(r["test"])
    if not o: continue
    print("%-30s %-12s %8.1f ± %-4.1f %8.1f ± %-4.1f %6.2fx" % (name, r["test"], r["avg_ts"], r["stddev_ts"],
          o["avg_ts"], o["stddev_ts"], r["avg_ts"] / o["avg_ts"]))
tg = [r for r in f if r["test"].startswith("tg")]
if tg:
    print("%-30s roofline %.1f tok/s (%.1f GB/s read / %.1f MB per token): Flint tg at %.0f%%, llama.cpp at %.0f%%" % (
        name, roof["roofline_tg_ts"], roof["read_bandwidth_gbs"], roof["weight_bytes_per_token"] / 1e6,
        100 * tg[0]["avg_ts"] / roof["roofline_tg_ts"], 100 * lt[tg[0]["test"]]["avg_ts"] / roof["roofline_tg_ts"]))
PY
done

[ "$batched" != none ] || exit 0
path=$($flint pull "$batched")
bj=$($flint bench --model "$path" -p 0 -n "$n" -b 1,8,32 --threads "$threads" --repetitions "$reps" --kv-cache-dtype "$cache" --json)
blj=$(llama bench/llamacpp_bench.py "$path" "$threads" 0 "$n" "$reps" 1,8,32 --flash-attn "$fa" --cache-type "$cache")
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
