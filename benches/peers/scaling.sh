#!/usr/bin/env bash
# Scaling from 1 to N workers: spawn+join of 1,000,000 empty tasks (spawn_w)
# and W independent channel ping-pong pairs (pingpong_pairs) on W workers,
# for weft, Go and tokio, peers interleaved; prints a markdown table of
# medians. W runs over the powers of two below nproc, then nproc itself.
# Usage: bash benches/peers/scaling.sh [--runs N] [--workers 1,2,4] [--only spawn_w,pingpong_pairs] [--prebuilt]
# --prebuilt runs the peer binaries already built (by an earlier run or
# copied from another machine) instead of building them: for a machine
# without toolchains or network.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

all=spawn_w,pingpong_pairs
peers="weft go tokio"
runs=3
only=$all
prebuilt=
limit=${PEER_TIMEOUT:-120} # seconds per invocation, so a hang cannot stall the script
cores=$(nproc)
counts=
for ((w = 1; w < cores; w *= 2)); do counts+="$w,"; done
counts+=$cores
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --workers) counts=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --prebuilt) prebuilt=1; shift ;;
        -h|--help) sed -n 2,9p "$0"; exit 0 ;;
        *) echo "scaling.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "scaling.sh: --runs wants a positive integer" >&2; exit 2; }
[[ $limit =~ ^[1-9][0-9]*$ ]] || { echo "scaling.sh: PEER_TIMEOUT wants a positive integer" >&2; exit 2; }
[[ $counts =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "scaling.sh: --workers wants positive integers, comma-separated" >&2; exit 2; }
IFS=, read -r -a workers <<<"$counts"
IFS=, read -r -a workloads <<<"$only"
for w in "${workloads[@]}"; do
    [[ ,$all, == *",$w,"* ]] || { echo "scaling.sh: unknown workload $w (known: $all)" >&2; exit 2; }
done

source common/peers.sh # bin, build_peers

tmp=$(mktemp -d)
results=$tmp/results
: >"$results"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

declare -A unavailable=() # peer -> what the table shows instead of numbers
if [ -n "$prebuilt" ]; then
    for p in $peers; do
        [ -x "${bin[$p]}" ] || unavailable[$p]="n/a (not built)"
    done
else
    # shellcheck disable=SC2086 # one word per peer
    build_peers $peers
fi

# Each invocation: `<peer> <workload> W`, one RESULT line on stdout.
failures=0
for w in "${workloads[@]}"; do
    for n in "${workers[@]}"; do
        for ((i = 1; i <= runs; i++)); do
            for peer in $peers; do
                if [ -n "${unavailable[$peer]:-}" ]; then
                    if [ "$i" -eq 1 ]; then
                        echo "$w $n $peer na ${unavailable[$peer]}" >>"$results"
                        failures=$((failures + 1))
                    fi
                    continue
                fi
                rc=0
                out=$(timeout "$limit" "${bin[$peer]}" "$w" "$n") || rc=$?
                [ $rc -eq 124 ] && why="timed out after ${limit}s" || why="exit status $rc"
                line=$(grep -E "^RESULT $w " <<<"$out" || true)
                if [ $rc -ne 0 ] || [ -z "$line" ]; then
                    [ $rc -ne 0 ] || why="no RESULT line"
                    echo "!! $peer $w $n run $i failed (${why})" >&2
                    failures=$((failures + 1))
                    echo "$w $n $peer fail -" >>"$results"
                    continue
                fi
                echo "   $peer $w W=$n run $i: ${line#RESULT $w }" >&2
                read -r _ _ value unit <<<"$line"
                echo "$w $n $peer $value $unit" >>"$results"
            done
        done
    done
done

echo
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "nproc: $cores"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "rustc: $(rustc --version 2>/dev/null || echo none); go: $(go version 2>/dev/null | awk '{print $3}' || echo none)"
echo "runs per peer and worker count: $runs (median shown)"
echo
python3 - "$results" "$peers" <<'PY'
import sys

sys.path.insert(0, "common")
from results import fmt, load, median

# (workload, workers) -> peer -> cell
rows, units = load(sys.argv[1], 2, key=lambda head: (head[0], int(head[1])))
peers = sys.argv[2].split()

def med(w, n, peer):
    return median(rows.get((w, n), {}).get(peer))

# Each peer's speedup over its own first (smallest) worker count: t1/tW for
# times, rW/r1 for rates (".../s").
first = {}
for (w, n) in rows:
    first[w] = min(first.get(w, n), n)

def speedup(w, n, peer):
    a, b = med(w, first[w], peer), med(w, n, peer)
    if a is None or b is None or not a or not b:
        return ""
    return f" ({b / a:.2f}x)" if units.get(w, "").endswith("/s") else f" ({a / b:.2f}x)"

print("| workload | workers | " + " | ".join(peers) + " |")
print("|---|---|" + "---|" * len(peers))
for (w, n), cells in rows.items():
    out = []
    for peer in peers:
        cell = cells.get(peer)
        if cell is None:
            out.append("")
        elif cell["na"]:
            out.append(cell["na"])
        elif not cell["vals"]:
            out.append(f"fail (0/{cell['fails']})")
        else:
            ok = len(cell["vals"])
            tally = f", {ok}/{ok + cell['fails']} ok" if cell["fails"] else ""
            out.append(f"{fmt(med(w, n, peer))} {units[w]}{speedup(w, n, peer)}{tally}")
    print(f"| {w} | {n} | " + " | ".join(out) + " |")
print()
print("In brackets: each peer's speedup over its own run with the fewest workers"
      " (t1/tW for ns/task, rW/r1 for Mrt/s); W workers ideally give Wx."
      " spawn_w: ns per task, lower is better. pingpong_pairs: million round"
      " trips per second, all W pairs together, higher is better.")
PY
[ $failures -eq 0 ] || { echo "scaling.sh: $failures run(s) failed or could not run, see above" >&2; exit 1; }
