#!/usr/bin/env bash
# Packs the engine's NuGet packages into OUTDIR: the library set Engine.Core, Engine.Kernels and
# Engine.Models (one version, from Directory.Build.props), their symbol packages (.snupkg), and
# Engine.Cli, the `engine` command as a .NET tool.
#   scripts/pack.sh OUTDIR [VERSION_SUFFIX]     e.g. scripts/pack.sh ./packages   or   scripts/pack.sh ./packages preview.1
set -euo pipefail
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: scripts/pack.sh OUTDIR [VERSION_SUFFIX]" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"
suffix=()
if [[ $# -eq 2 ]]; then suffix=(-p:VersionSuffix="$2"); fi
for project in Engine.Core Engine.Kernels Engine.Models Engine.Cli; do
  echo "pack: $project" >&2
  dotnet pack "$root/$project/$project.csproj" -c Release -o "$out" -nologo -v quiet "${suffix[@]}"
done
ls -1 "$out"/*.nupkg "$out"/*.snupkg
