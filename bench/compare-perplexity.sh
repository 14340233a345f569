#!/usr/bin/env bash
# flint perplexity and llama.cpp's llama-perplexity on the same text, same chunks, same
# threads: PPL of each at each context, and Flint's relative difference.
#
#   bench/compare-perplexity.sh [--isa avx2] [--threads 2] [--file Tests/Fixtures/kjv-genesis.txt]
#                               [--ctx "512 2048"] [--tokens 8192] [models...]
#
# --tokens caps the text scored at each context to its first N / ctx chunks (the whole text
# takes minutes per model). llama-perplexity runs with -b = ctx (one sequence per batch, as
# flint perplexity evaluates) and its default flash-attention setting; it is built from the
# llama.cpp of llama-cpp-python 0.3.36 (bench/llamacpp-build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/llamacpp-build.sh

threads=2; file=Tests/Fixtures/kjv-genesis.txt; ctxs="512 2048"; tokens=8192; models=(); isa=native
while [ $# -gt 0 ]; do
    case "$1" in
        --isa) isa=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --file) file=$2; shift 2 ;;
        --ctx) ctxs=$2; shift 2 ;;
        --tokens) tokens=$2; shift 2 ;;
        *) models+=("$1"); shift ;;
    esac
done
[ ${#models[@]} -gt 0 ] || models=(smollm2-135m-instruct gemma-3-270m qwen2.5-coder-0.5b-instruct)
[ "$isa" = native ] || export FLINT_KERNELS_ISA=$isa
ppl=$(llamacpp_tool_bin "$isa" llama-perplexity)
flint=.build/release/flint

printf '%-30s %6s %7s %12s %12s %8s\n' model ctx chunks "flint PPL" "llama.cpp" "diff"
for m in "${models[@]}"; do
    path=$($flint pull "$m")
    for c in $ctxs; do
        chunks=$((tokens / c))
        f=$($flint perplexity --model "$path" --file "$file" --ctx "$c" --chunks "$chunks" --threads "$threads" --json)
        l=$("$ppl" -m "$path" -f "$file" -c "$c" -b "$c" --chunks "$chunks" -t "$threads" 2>&1 | grep -o 'Final estimate: PPL = [0-9.]*' | awk '{print $5}')
        python3 - "$m" "$c" "$chunks" "$f" "$l" <<'PY'
import json, sys
name, ctx, chunks, f, l = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), float(sys.argv[5])
print("%-30s %6s %7s %12.4f %12.4f %+7.2f%%" % (name, ctx, chunks, f["perplexity"], l, 100 * (f["perplexity"] / l - 1)))
PY
    done
done
