#!/usr/bin/env bash
# gpu-check.sh OUTDIR [--model DIR]... [--quick]
#
# The one-command GPU check, run from a bundle made by scripts/gpu-bundle.sh on a machine with a GPU and its
# driver but no .NET. In order, each step with its own time limit so the whole stays under 8 minutes:
#   1. engine doctor (text and JSON; the fast kernels' self-check on the device)
#   2. stories260K (and every --model DIR) greedy on the device vs the SIMD CPU backend: tokens and top log-probs
#   3. engine selftest: the op-conformance cases on the device against the SIMD CPU backend
#   4. with python3 and torch: bf16 matmul peak, copy bandwidth and a plain PyTorch bf16 prefill/decode of the
#      same shapes (scripts/torch_peer.py), the same-run peer (before the engine's benchmarks, which may run out of time)
#   5. engine bench --random-weights for the qwen2.5-0.5b and qwen2-7b shapes: prompt 512 and 4096, decode 128,
#      LagKV 8x against the full cache; kernel launches, host syncs and host-device bytes per token
#   6. OUTDIR/summary.md (one table) and OUTDIR/summary.json, from every JSON file above (engine gpu-report)
# Environment: ENGINE_GPU_CHECK_DEVICE (default cuda; `cpu` for a dry run), ENGINE_BIN (default: the bundle's
# engine; e.g. the repository's ./engine for a dry run from a checkout).
# --quick: small shapes and short runs (the dry run on a CPU finishes in a few minutes).
set -uo pipefail

usage() { echo "usage: $0 OUTDIR [--model DIR]... [--quick]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
out="$1"; shift
models=()
quick=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) [[ $# -ge 2 ]] || usage; models+=("$2"); shift 2 ;;
    --quick) quick=1; shift ;;
    *) usage ;;
  esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
engine="${ENGINE_BIN:-$here/engine}"
device="${ENGINE_GPU_CHECK_DEVICE:-cuda}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
[[ -x $engine ]] || { echo "error: no engine at $engine (run from a gpu-bundle.sh bundle or set ENGINE_BIN)" >&2; exit 2; }

# A bare machine may lack ICU; the engine then runs with invariant globalization rather than not at all.
if ! ldconfig -p 2>/dev/null | grep -q 'libicuuc\.so'; then export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1; fi

# The stories260K of the bundle, else of the repository's shared assets (a dry run from a checkout).
for candidate in "$here/models/stories260K" "$here/../../shared/assets/models/stories260K" "$here/../shared/assets/models/stories260K"; do
  if [[ -f $candidate/config.json ]]; then models=("$(cd "$candidate" && pwd)" "${models[@]}"); break; fi
done

if (( quick )); then
  shapes=(qwen2.5-0.5b); prompts=(32 64); gen=4; reps=1; lagkv=(--lagkv 8x --lag-size 8 --sink-size 4); greedy_tokens=24; bench_limit=240
else
  shapes=(qwen2.5-0.5b qwen2-7b); prompts=(512 4096); gen=128; reps=2; lagkv=(--lagkv 8x); greedy_tokens=200; bench_limit=60
fi

# First start outside the steps' limits: the checkout's launcher may build, the bundle unpacks its native libraries.
"$engine" --help > /dev/null 2>&1 || { echo "error: $engine does not start" >&2; exit 2; }

started=$(date +%s)
budget=${ENGINE_GPU_CHECK_BUDGET_S:-470}   # 8 minutes less start-up and the summary
printf 'step\texit\tseconds\n' > "$out/steps.tsv"

# step NAME LIMIT_S COMMAND...: stdout to NAME.json (or .txt), stderr to NAME.err; skipped past the budget.
step() {
  local name="$1" limit="$2"; shift 2
  local left=$(( budget - ($(date +%s) - started) ))
  if (( left <= 5 )); then printf '%s\tskipped\t0\n' "$name" >> "$out/steps.tsv"; echo "gpu-check: $name skipped (time budget spent)" >&2; return; fi
  (( limit > left )) && limit=$left
  local t0=$(date +%s%N)
  echo "gpu-check: $name ..." >&2
  timeout --kill-after=5 "$limit" "$@" > "$out/$name.out" 2> "$out/$name.err"
  local rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '%s\t%s\t%d.%03d\n' "$name" "$rc" $(( ms / 1000 )) $(( ms % 1000 )) >> "$out/steps.tsv"
  [[ $rc -eq 0 ]] || echo "gpu-check: $name exited $rc (see $out/$name.err)" >&2
}

# JSON-producing steps write NAME.out; renamed to NAME.json when it parses as one object (checked by the report).
finish_json() { local name="$1"; [[ -s $out/$name.out ]] && mv "$out/$name.out" "$out/$name.json"; }

step doctor 60 "$engine" doctor
step doctor-json 60 "$engine" doctor --json; finish_json doctor-json

for dir in "${models[@]}"; do
  name="$(basename "$dir")"
  # The device's run against the SIMD CPU backend's (a dry run on the CPU uses one thread for the device side).
  for side in device cpu; do
    args=(--device cpu)
    [[ $side == device ]] && args=(--device "$device") && [[ $device == cpu ]] && args+=(--threads 1)
    step "greedy-$name-$side" 90 "$engine" run --model "$dir" --prompt-ids 1 --max-tokens "$greedy_tokens" --temperature 0 --ignore-eos \
      --logprobs 5 "${args[@]}" --json
    finish_json "greedy-$name-$side"
  done
done

step selftest 150 "$engine" selftest --device "$device" --json; finish_json selftest

if command -v python3 >/dev/null && python3 -c 'import torch' 2>/dev/null; then
  torch_device=$([[ $device == cpu ]] && echo cpu || echo cuda)
  quick_flag=$( (( quick )) && echo --quick || true)
  registry="$here/models.json"; [[ -f $registry ]] || registry="$here/../models.json"   # the bundle's, else the checkout's
  step torch-peer 120 python3 "$here/torch_peer.py" --device "$torch_device" --models "$registry" \
    --shapes "${shapes[@]}" --prompts "${prompts[@]}" --gen "$gen" $quick_flag
  finish_json torch-peer
else
  printf 'torch-peer\tskipped (no python3 with torch)\t0\n' >> "$out/steps.tsv"
  echo "gpu-check: torch-peer skipped (no python3 with torch)" >&2
fi

for shape in "${shapes[@]}"; do
  for prompt in "${prompts[@]}"; do
    name="bench-$shape-p$prompt"
    # Long prompts: one timed request per side, and more time (prefill attention is not tiled yet).
    r=$reps; limit=$bench_limit
    (( prompt >= 4096 )) && r=1 && limit=$(( bench_limit * 2 ))
    step "$name" "$limit" "$engine" bench --model "$shape" --random-weights --dtype bf16 --device "$device" \
      --prompt-tokens "$prompt" --gen-tokens "$gen" --repetitions "$r" "${lagkv[@]}" --json
    finish_json "$name"
  done
done

"$engine" gpu-report "$out" --device "$device" > "$out/summary.md" 2> "$out/gpu-report.err"
rc=$?
cat "$out/summary.md"
echo "gpu-check: done in $(( $(date +%s) - started )) s; results in $out" >&2
exit $rc
