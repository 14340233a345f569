#!/usr/bin/env bash
# Code-edit benchmark for speculative decoding (issue 21): each task of bench/code-edit
# (a source file and an edit instruction) as one streaming chat completion whose answer is
# the whole edited file, against Flint (no speculation, predicted outputs, n-gram, draft
# model) and llama-server on the same GGUF (no speculation, n-gram, draft model), one server
# at a time. Prints per task and per mode TTFT, decode time, emitted tokens, output tok/s,
# acceptance rate, whether the text equals its base mode's, and ratios (bench/code_edit.py).
#
#   bench/code-edit.sh [--isa native|avx2] [--modes flint-base,llama-base,...] [--tasks lru.go,...]
#                      [--model qwen2.5-coder-1.5b-instruct] [--draft-model qwen2.5-coder-0.5b-instruct]
#                      [--threads 2] [--json PATH] [more bench/code_edit.py options]
#
# llama-server comes from bench/llamacpp-build.sh for --isa (built on first use, ~10 minutes);
# Flint is the existing .build/release/flint (no build), which also pulls missing models.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/llamacpp-build.sh

isa=native; modes=all; args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --isa) isa=$2; shift 2 ;;
        --modes) modes=$2; shift 2 ;;
        *) shift ;;
    esac
done
case "$isa" in native|avx2) ;; *) echo "--isa must be avx2 or native" >&2; exit 2 ;; esac
server=()
if [ "$modes" = all ] || [[ ",$modes" == *,llama-* ]]; then
    server=(--llama-server "$(llamacpp_server_bin "$isa")")
    echo "llama-server: ${server[1]} ($isa: $(llamacpp_isa_label "$isa"))" >&2
fi
exec python3 bench/code_edit.py "${server[@]}" "${args[@]}"
