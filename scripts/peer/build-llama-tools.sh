#!/usr/bin/env bash
# Builds llama.cpp's llama-quantize and llama-bench against node-llama-cpp's prebuilt libraries, the way
# build-llama-batched-bench.sh builds llama-batched-bench (it runs first: it clones the source bundle and
# links the libraries into OUT_DIR). Only each tool's own source files are compiled.
#
#   bash scripts/peer/build-llama-tools.sh [NODE_MODULES_DIR] [OUT_DIR]
#     NODE_MODULES_DIR  where node-llama-cpp@3.21.1 is installed (default /tmp/peer/node_modules)
#     OUT_DIR           output folder (default /tmp/peer/batched-bench); run OUT_DIR/llama-quantize, OUT_DIR/llama-bench
set -euo pipefail

modules="${1:-/tmp/peer/node_modules}"
out="${2:-/tmp/peer/batched-bench}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ -x "$out/llama-batched-bench" ]] || bash "$here/build-llama-batched-bench.sh" "$modules" "$out"
src="$out/llama.cpp"

llama_lib=$(cd "$out" && ls libllama.v*.so)
ggml_lib=$(cd "$out" && ls libggml.v*.so)
build() { # NAME SOURCES...
    local name="$1"; shift
    g++ -O2 -std=c++17 \
        -I"$src/include" -I"$src/common" -I"$src/ggml/include" -I"$src/vendor" -I"$src/tools/mtmd" \
        "$@" -o "$out/$name" \
        -L"$out" -l:libllama-common.so -l:"$llama_lib" -l:"$ggml_lib" -l:libggml-base.so -lpthread \
        -Wl,-rpath,'$ORIGIN'
    echo "built $out/$name"
}
build llama-quantize "$src"/tools/quantize/*.cpp
build llama-bench "$src"/tools/llama-bench/*.cpp
