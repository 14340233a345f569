#!/usr/bin/env bash
# flint perplexity and llama.cpp's llama-perplexity on the same text, same chunks, same
# threads: PPL of each at each context, and Flint's relative difference.
#
#   bench/compare-perplexity.sh [--isa avx2] [--threads 2] [--file Tests/Fixtures/kjv-genesis.txt]
#                               [--ctx "512 2048"] [--tokens 8192] [--cache-type f16|q8_0] [models...]
#
# --tokens caps the text scored at each context to its first N / ctx chunks (the whole text
# takes minutes per model). llama-perplexity runs with -b = ctx (one sequence per batch, as
# flint perplexity evaluates) and its default flash-attention setting; it is built from the
# llama.cpp of llama-cpp-python 0.3.36 (bench/llamacpp-build.sh). --cache-type sets both
# sides' KV cache type (Flint's --kv-cache-dtype, llama-perplexity's -ctk/-ctv), and the
# table adds Flint's perplexity with an F16 cache, against which Flint's q8_0 is compared.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/llamacpp-build.sh

threads=2; file=Tests/Fixtures/kjv-genesis.txt; ctxs="512 2048"; tokens=8192; models=(); isa=native; cache=f16
while [ $# -gt 0 ]; do
    case "$1" in
        --isa) isa=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --file) file=$2; shift 2 ;;
        --ctx) ctxs=$2; shift 2 ;;
        --tokens) tokens=$2; shift 2 ;;
        --cache-type) cache=$2; shift 2 ;;
        *) models+=("$1"); shift ;;
    esac
done
[ ${#models[@]} -gt 0 ] || models=(smollm2-135m-instruct gemma-3-270m qwen2.5-coder-0.5b-instruct)
[ "$isa" = native ] || export FLINT_KERNELS_ISA=$isa
ppl=$(llamacpp_tool_bin "$isa" llama-perplexity)
flint=.build/release/flint

echo "KV cache: $cache"
if [ "$cache" = f16 ]; then
    printf '%-30s %6s %7s %12s %12s %8s\n' model ctx chunks "flint PPL" "llama.cpp" "diff"
else
    printf '%-30s %6s %7s %12s %12s %8s %12s %12s\n' model ctx chunks "flint PPL" "llama.cpp" "diff" "flint f16" "vs f16"
fi
for m in "${models[@]}"; do
    path=$($flint pull "$m")
    for c in $ctxs; do
        chunks=$((tokens / c))
        run_flint() { $flint perplexity --model "$path" --file "$file" --ctx "$c" --chunks "$chunks" --threads "$threads" --kv-cache-dtype "$1" --json; }
        f=$(run_flint "$cache")
        base=$f; [ "$cache" = f16 ] || base=$(run_flint f16)
        l=$("$ppl" -m "$path" -f "$file" -c "$c" -b "$c" --chunks "$chunks" -t "$threads" -ctk "$cache" -ctv "$cache" 2>&1 | grep -o 'Final estimate: PPL = [0-9.]*' | awk '{print $5}')
        python3 - "$m" "$c" "$chunks" "$f" "$l" "$base" "$cache" <<'PY'
import json, sys
name, ctx, chunks, f, l, base, cache = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), float(sys.argv[5]), json.loads(sys.argv[6]), sys.argv[7]
line = "%-30s %6s %7s %12.4f %12.4f %+7.2f%%" % (name, ctx, chunks, f["perplexity"], l, 100 * (f["perplexity"] / l - 1))
if cache != "f16":
    line += " %12.4f %+11.2f%%" % (base["perplexity"], 100 * (f["perplexity"] / base["perplexity"] - 1))
print(line)
PY
    done
done
