#!/usr/bin/env bash
# gpu-bundle.sh OUTDIR: a self-contained linux-x64 bundle for a GPU machine without .NET.
#   OUTDIR/engine           the CLI, published self-contained as one compressed file (not trimmed: ILGPU reads
#                           kernels' IL by reflection); its hidden `selftest` command runs the op-conformance
#                           cases on a device against the SIMD CPU backend
#   OUTDIR/models.json      the registry (shapes for `bench --random-weights`)
#   OUTDIR/models/stories260K  the small real model for the CUDA-vs-CPU greedy comparison (when ../shared has it)
#   OUTDIR/gpu-check.sh, OUTDIR/torch_peer.py   the check itself and its PyTorch peer
# Then: copy OUTDIR to the GPU machine and run `OUTDIR/gpu-check.sh RESULTS`.
set -euo pipefail
if [[ $# -ne 1 ]]; then echo "usage: $0 OUTDIR" >&2; exit 2; fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
limit_mb=60

echo "gpu-bundle: publishing the CLI (self-contained linux-x64, single compressed file; 1-3 minutes)..." >&2
publish="$root/.build/gpu-bundle-publish"
rm -rf "$publish"
if ! dotnet publish "$root/Engine.Cli/Engine.Cli.csproj" -c Release -r linux-x64 --self-contained \
      -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
      -p:DebugType=none -p:GenerateDocumentationFile=false -o "$publish" -nologo -v quiet >"$out/publish.log" 2>&1; then
  grep -E "error" "$out/publish.log" | sort -u | head -20 >&2
  echo "gpu-bundle: publish failed (log: $out/publish.log)" >&2
  exit 1
fi
install -m 755 "$publish/engine" "$out/engine"
cp "$root/models.json" "$out/models.json"
install -m 755 "$root/scripts/gpu-check.sh" "$out/gpu-check.sh"
cp "$root/scripts/torch_peer.py" "$out/torch_peer.py"
stories="$root/../shared/assets/models/stories260K"
if [[ -d $stories ]]; then
  mkdir -p "$out/models"
  rm -rf "$out/models/stories260K"
  cp -r "$stories" "$out/models/stories260K"
else
  echo "gpu-bundle: note: $stories not found; the check will skip the stories260K comparison unless given --model" >&2
fi
rm -f "$out/publish.log"

size_mb=$(du -sm "$out" | cut -f1)
echo "gpu-bundle: $out is ${size_mb} MB (limit ${limit_mb} MB)" >&2
if (( size_mb >= limit_mb )); then echo "gpu-bundle: the bundle is over ${limit_mb} MB" >&2; exit 1; fi
