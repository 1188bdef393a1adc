#!/usr/bin/env bash
# Builds the weft, Go and tokio peers, runs each workload R times with the
# peers interleaved (weft, go, tokio, weft, ...), and prints a markdown table
# of medians. Usage: bash benches/peers/run.sh [--runs N] [--only spawn,yield,sleep_rss]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

runs=5
only=spawn,yield,sleep_rss
limit=${PEER_TIMEOUT:-120} # seconds per invocation, so a hang cannot stall the script
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        -h|--help) sed -n 2,4p "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs wants a positive integer" >&2; exit 2; }
IFS=, read -r -a workloads <<<"$only"
for w in "${workloads[@]}"; do
    case $w in spawn|yield|sleep_rss) ;; *) echo "run.sh: unknown workload $w" >&2; exit 2 ;; esac
done

echo "== building peers" >&2
(cd weft && cargo build --release --quiet --target-dir target)
(cd tokio && cargo build --release --quiet --target-dir target)
(cd go && env -u GOFLAGS go build -o bin/go-peer main.go)
declare -A bin=(
    [weft]=weft/target/release/weft-peer
    [go]=go/bin/go-peer
    [tokio]=tokio/target/release/tokio-peer
)

results=$(mktemp)
trap 'rm -f "$results"' EXIT
failures=0
for w in "${workloads[@]}"; do
    for ((i = 1; i <= runs; i++)); do
        for peer in weft go tokio; do
            rc=0
            out=$(timeout "$limit" "${bin[$peer]}" "$w") || rc=$?
            line=$(grep -E "^RESULT $w " <<<"$out" || true)
            if [ $rc -ne 0 ] || [ -z "$line" ]; then
                why="exit status $rc"; [ $rc -eq 124 ] && why="timed out after ${limit}s"
                echo "!! $peer $w run $i failed ($why)" >&2
                failures=$((failures + 1))
                echo "$w $peer fail -" >>"$results"
                continue
            fi
            echo "   $peer $w run $i: ${line#RESULT $w }" >&2
            read -r _ _ value unit <<<"$line"
            echo "$w $peer $value $unit" >>"$results"
        done
    done
done

echo
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "runs per peer: $runs (median shown)"
echo
python3 - "$results" <<'PY'
import statistics, sys

rows = {}  # workload -> peer -> list of values; workload -> unit
units = {}
for line in open(sys.argv[1]):
    w, peer, value, unit = line.split()
    if value != "fail":
        rows.setdefault(w, {}).setdefault(peer, []).append(float(value))
        units[w] = unit
    else:
        rows.setdefault(w, {}).setdefault(peer, [])

def med(w, peer):
    vals = rows[w].get(peer, [])
    return statistics.median(vals) if vals else None

def ratio(w, peer):
    a, b = med(w, peer), med(w, "weft")
    return f"{a / b:.2f}x" if a is not None and b else "n/a"

print("| workload | weft (median) | go (median) | tokio (median) | weft/go | weft/tokio |")
print("|---|---|---|---|---|---|")
for w in rows:
    cells = []
    for peer in ("weft", "go", "tokio"):
        m = med(w, peer)
        cells.append(f"{m:,.1f} {units[w]}" if m is not None else "fail")
    print(f"| {w} | " + " | ".join(cells) + f" | {ratio(w, 'go')} | {ratio(w, 'tokio')} |")
print()
print("weft/go and weft/tokio are peer median / weft median: for spawn and yield,"
      " how many times faster weft is; for sleep_rss, how many times less memory"
      " per task weft uses. Above 1 favours weft, below 1 favours the peer.")
PY
[ $failures -eq 0 ] || { echo "run.sh: $failures run(s) failed, see above" >&2; exit 1; }
