#!/usr/bin/env bash
# Builds llama.cpp (version of llama-cpp-python 0.3.36) for one x86 instruction-set level,
# each level in a folder of its own under ${FLINT_HOME:-$HOME/.cache/flint}/bench:
#
#   llama-cpp-python-<isa>/   pip install --target of llama-cpp-python (use with PYTHONPATH)
#   llama-server-<isa>/       llama-server built from the llama.cpp vendored in its sdist
#
# <isa> is "avx2" (AVX2 + FMA + F16C, no AVX-512) or "native" (what /proc/cpuinfo offers:
# AVX-512 F/CD/VL/DQ/BW, VNNI, VBMI, BF16 or AVX-VNNI when present; AMX always off, the
# native AMX build crashes where the kernel does not grant AMX state). A folder is rebuilt
# when its recorded CMake flags differ from the ones this host wants.
#
#   bench/llamacpp-build.sh avx2|native [python|server|all]      # build ahead of time
#   source bench/llamacpp-build.sh; llamacpp_python_dir avx2      # prints the folder
#                                    llamacpp_server_bin native   # prints the binary
#                                    llamacpp_tool_bin native llama-perplexity  # another tool
# Needs a C/C++ compiler; cmake and ninja come from pip (a venv in .../bench/tools).

LLAMACPP_VERSION=0.3.36
LLAMACPP_ROOT="${FLINT_HOME:-$HOME/.cache/flint}/bench"

# The GGML CMake flags of one ISA level.
llamacpp_cmake_args() {
    local isa=$1 flags f
    local off="-DGGML_AVX512=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AVX_VNNI=OFF"
    local base="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
    local amx="-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
    case "$isa" in
        avx2) echo "$base $off $amx" ;;
        native)
            flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
            has() { for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
            has avx2 fma f16c || { echo "llamacpp-build: this CPU has no AVX2/FMA/F16C" >&2; return 1; }
            if has avx512f avx512cd avx512vl avx512dq avx512bw; then
                off="-DGGML_AVX512=ON"
                if has avx512_vnni; then off+=" -DGGML_AVX512_VNNI=ON"; else off+=" -DGGML_AVX512_VNNI=OFF"; fi
                if has avx512vbmi; then off+=" -DGGML_AVX512_VBMI=ON"; else off+=" -DGGML_AVX512_VBMI=OFF"; fi
                if has avx512_bf16; then off+=" -DGGML_AVX512_BF16=ON"; else off+=" -DGGML_AVX512_BF16=OFF"; fi
                off+=" -DGGML_AVX_VNNI=OFF"
            elif has avx_vnni; then
                off=${off/-DGGML_AVX_VNNI=OFF/-DGGML_AVX_VNNI=ON}
            fi
            echo "$base $off $amx" ;;
        *) echo "llamacpp-build: unknown ISA '$isa' (avx2 or native)" >&2; return 1 ;;
    esac
}

# Short ISA summary for reports: "avx2" or e.g. "avx512+vnni+vbmi+bf16".
llamacpp_isa_label() {
    local a; a=$(llamacpp_cmake_args "$1") || return 1
    if [[ $a == *-DGGML_AVX512=ON* ]]; then
        local l=avx512
        [[ $a == *AVX512_VNNI=ON* ]] && l+=+vnni
        [[ $a == *AVX512_VBMI=ON* ]] && l+=+vbmi
        [[ $a == *AVX512_BF16=ON* ]] && l+=+bf16
        echo "$l"
    elif [[ $a == *AVX_VNNI=ON* ]]; then echo avx2+avxvnni
    else echo avx2; fi
}

# Prints the folder to put on PYTHONPATH, installing llama-cpp-python there if needed.
llamacpp_python_dir() {
    local isa=$1 args dir
    args=$(llamacpp_cmake_args "$isa") || return 1
    dir="$LLAMACPP_ROOT/llama-cpp-python-$isa"
    if [ "$(cat "$dir/.cmake-args" 2>/dev/null)" != "$args" ] || [ ! -d "$dir/llama_cpp" ]; then
        echo "building llama-cpp-python $LLAMACPP_VERSION for $isa into $dir (~10 minutes on 2 cores)..." >&2
        rm -rf "$dir"
        CMAKE_ARGS="$args" python3 -m pip install --no-cache-dir --target "$dir" \
            "llama-cpp-python==$LLAMACPP_VERSION" >&2 || return 1
        echo "$args" >"$dir/.cmake-args"
    fi
    echo "$dir"
}

# Prints the path of llama-server for this ISA, building it if needed.
llamacpp_server_bin() {
    local isa=$1 args dir tools src
    args=$(llamacpp_cmake_args "$isa") || return 1
    dir="$LLAMACPP_ROOT/llama-server-$isa"
    if [ "$(cat "$dir/.cmake-args" 2>/dev/null)" != "$args" ] || [ ! -x "$dir/llama-server" ]; then
        echo "building llama-server ($LLAMACPP_VERSION sdist) for $isa into $dir (~10 minutes on 2 cores)..." >&2
        tools="$LLAMACPP_ROOT/tools"
        if [ ! -x "$tools/bin/cmake" ] || [ ! -x "$tools/bin/ninja" ]; then
            python3 -m venv "$tools" && "$tools/bin/pip" install --quiet cmake ninja >&2 || return 1
        fi
        src="$LLAMACPP_ROOT/src/llama_cpp_python-$LLAMACPP_VERSION"
        if [ ! -d "$src/vendor/llama.cpp" ]; then
            mkdir -p "$LLAMACPP_ROOT/src"
            # --no-binary for this package only: the build backend's own wheels stay binaries.
            python3 -m pip download --no-deps --no-binary llama-cpp-python -d "$LLAMACPP_ROOT/src" \
                "llama-cpp-python==$LLAMACPP_VERSION" >&2 || return 1
            tar -xzf "$LLAMACPP_ROOT/src/llama_cpp_python-$LLAMACPP_VERSION.tar.gz" -C "$LLAMACPP_ROOT/src" || return 1
        fi
        rm -rf "$dir" && mkdir -p "$dir"
        # shellcheck disable=SC2086
        PATH="$tools/bin:$PATH" cmake -S "$src/vendor/llama.cpp" -B "$dir/build" -G Ninja \
            -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_SERVER=ON \
            -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
            -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF $args >&2 || return 1
        PATH="$tools/bin:$PATH" cmake --build "$dir/build" --target llama-server >&2 || return 1
        cp "$dir/build/bin/llama-server" "$dir/llama-server"
        echo "$args" >"$dir/.cmake-args"
    fi
    echo "$dir/llama-server"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    isa=${1:?usage: bench/llamacpp-build.sh avx2|native [python|server|all]}
    what=${2:-all}
    echo "$isa: $(llamacpp_isa_label "$isa"): $(llamacpp_cmake_args "$isa")"
    case "$what" in python|all) llamacpp_python_dir "$isa" ;; esac
    case "$what" in server|all) llamacpp_server_bin "$isa" ;; esac
fi

# Prints the path of another llama.cpp tool (e.g. llama-perplexity) built in llama-server's
# build folder for this ISA, building it if needed.
llamacpp_tool_bin() {
    local isa=$1 tool=$2 server dir
    server=$(llamacpp_server_bin "$isa") || return 1
    dir=$(dirname "$server")
    if [ ! -x "$dir/build/bin/$tool" ]; then
        PATH="$LLAMACPP_ROOT/tools/bin:$PATH" cmake --build "$dir/build" --target "$tool" >&2 || return 1
    fi
    echo "$dir/build/bin/$tool"
}
