#!/usr/bin/env bash
# Quantized CPU speed, the engine against llama.cpp on the SAME GGUF files (issue 13's bar: decode >= 1.0x,
# prefill >= 0.8x llama.cpp for Q8_0 and Q4_K_M at 2 threads). Makes the files from the random bf16 GGUF
# with llama-quantize if they are missing, then alternates llama-bench and `engine bench` runs per file
# and prints each run and the medians.
#
#   bash scripts/peer/quant-speed.sh [--rounds N] [--prompt P] [--gen G] [--threads T] [--types "bf16 Q8_0 Q4_K_M"]
#
# Needs the set-up of scripts/peer/README.md: /tmp/peer/models/qwen2.5-0.5b-bf16-random.gguf and
# build-llama-tools.sh's llama-quantize and llama-bench in /tmp/peer/batched-bench (PEER_DIR to change).
set -euo pipefail

rounds=3 prompt=128 gen=64 threads=2 types="bf16 Q8_0 Q4_K_M"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --prompt) prompt="$2"; shift 2 ;;
        --gen) gen="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --types) types="$2"; shift 2 ;;
        *) echo "error: unknown argument $1" >&2; exit 1 ;;
    esac
done
peer="${PEER_DIR:-/tmp/peer}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bf16="$peer/models/qwen2.5-0.5b-bf16-random.gguf"
tools="$peer/batched-bench"
for needed in "$bf16" "$tools/llama-quantize" "$tools/llama-bench"; do
    [[ -e "$needed" ]] || { echo "error: $needed not found (see scripts/peer/README.md)" >&2; exit 1; }
done

file_for() { [[ "$1" == bf16 ]] && echo "$bf16" || echo "$peer/models/qwen2.5-0.5b-$1-random.gguf"; }
for type in $types; do
    file=$(file_for "$type")
    if [[ ! -e "$file" ]]; then
        echo "quantizing $bf16 to $type..." >&2
        "$tools/llama-quantize" "$bf16" "$file" "$type" "$threads" > "$file.log" 2>&1 || { tail -5 "$file.log" >&2; exit 1; }
    fi
done

# One line per measurement: WHO TYPE prefill|decode TOK/S.
llama_rates='import json, sys
for t in json.load(sys.stdin):
    print("llama.cpp", sys.argv[1], "prefill" if t["n_prompt"] > 0 else "decode", round(t["avg_ts"], 2))'
engine_rates='import json, sys
r = json.load(sys.stdin)
for kind in ("prefill", "decode"): print("engine", sys.argv[1], kind, round(r[kind + "_tokens_per_s"]["median"], 2))'
results=$(mktemp)
for round in $(seq 1 "$rounds"); do
    for type in $types; do
        file=$(file_for "$type")
        # llama.cpp: one prompt test and one generation test, one repetition each (after its own warm-up).
        "$tools/llama-bench" -m "$file" -t "$threads" -p "$prompt" -n "$gen" -r 1 -o json 2>/dev/null |
            python3 -c "$llama_rates" "$type" | tee -a "$results"
        "$root/engine" bench --model "$file" --device cpu --threads "$threads" --prompt-tokens "$prompt" --gen-tokens "$gen" \
            --repetitions 1 --bandwidth-probe-mib 64 --json 2>/dev/null |
            python3 -c "$engine_rates" "$type" | tee -a "$results"
    done
    echo "round $round done ($(uptime | sed 's/.*load average/load average/'))" >&2
done

echo
python3 - "$results" "$types" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
print(f"| type | prefill engine | prefill llama.cpp | ratio | decode engine | decode llama.cpp | ratio |")
print(f"|---|---:|---:|---:|---:|---:|---:|")
for t in sys.argv[2].split():
    m = {(who, kind): statistics.median(float(r[3]) for r in rows if r[0] == who and r[1] == t and r[2] == kind)
         for who in ("engine", "llama.cpp") for kind in ("prefill", "decode")}
    pe, pl, de, dl = m["engine", "prefill"], m["llama.cpp", "prefill"], m["engine", "decode"], m["llama.cpp", "decode"]
    print(f"| {t} | {pe:.1f} | {pl:.1f} | {pe / pl:.2f}x | {de:.1f} | {dl:.1f} | {de / dl:.2f}x |")
PY
rm -f "$results"
