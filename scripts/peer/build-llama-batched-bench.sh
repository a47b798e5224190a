#!/usr/bin/env bash
# Builds llama.cpp's own llama-batched-bench against node-llama-cpp's prebuilt libraries (libllama,
# libllama-common, ggml and its CPU variants), from the llama.cpp source node-llama-cpp ships as a git bundle.
# Only the tool's two source files are compiled (seconds), so it runs the very same llama.cpp build as
# llama-batched-decode.mjs.
#
#   bash scripts/peer/build-llama-batched-bench.sh [NODE_MODULES_DIR] [OUT_DIR]
#     NODE_MODULES_DIR  where node-llama-cpp@3.21.1 is installed (default /tmp/peer/node_modules)
#     OUT_DIR           output folder (default /tmp/peer/batched-bench); run OUT_DIR/llama-batched-bench
set -euo pipefail

modules="${1:-/tmp/peer/node_modules}"
out="${2:-/tmp/peer/batched-bench}"
bundle="$modules/node-llama-cpp/llama/gitRelease.bundle"
bins="$modules/@node-llama-cpp/linux-x64/bins/linux-x64"

for needed in "$bundle" "$bins/libllama-common.so"; do
    [[ -e "$needed" ]] || { echo "error: $needed not found (install node-llama-cpp@3.21.1 and @node-llama-cpp/linux-x64 there, see scripts/peer/README.md)" >&2; exit 1; }
done
command -v g++ >/dev/null || { echo "error: g++ not found" >&2; exit 1; }

mkdir -p "$out"
src="$out/llama.cpp"
[[ -d "$src/.git" ]] || git -c advice.detachedHead=false clone --quiet "$bundle" "$src"

# The loader looks for ggml's CPU variants beside the executable: link the prebuilt libraries in.
for lib in "$bins"/*.so; do ln -sf "$lib" "$out/$(basename "$lib")"; done

llama_lib=$(cd "$bins" && ls libllama.v*.so)
ggml_lib=$(cd "$bins" && ls libggml.v*.so)
g++ -O2 -std=c++17 \
    -I"$src/include" -I"$src/common" -I"$src/ggml/include" -I"$src/vendor" \
    "$src/tools/batched-bench/batched-bench.cpp" "$src/tools/batched-bench/main.cpp" \
    -o "$out/llama-batched-bench" \
    -L"$out" -l:libllama-common.so -l:"$llama_lib" -l:"$ggml_lib" -l:libggml-base.so -lpthread \
    -Wl,-rpath,'$ORIGIN'

echo "built $out/llama-batched-bench (llama.cpp $(git -C "$src" rev-parse --short HEAD), node-llama-cpp release $(cat "$modules/node-llama-cpp/llama/binariesGithubRelease.json" | tr -d ' \n'))"
