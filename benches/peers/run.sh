#!/usr/bin/env bash
# Builds the peers, runs each workload R times with its peers interleaved
# (weft, go, tokio, weft, ...), and prints a markdown table of medians.
# Usage: bash benches/peers/run.sh [--runs N] [--only spawn,spawn_wg,yield,sibling_wait,sleep_rss,pingpong1,pingpong2,echo1,echo1000,http,idle_rss]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

all=spawn,spawn_wg,yield,sibling_wait,sleep_rss,pingpong1,pingpong2,echo1,echo1000,http,idle_rss
runs=5
only=$all
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
[[ $limit =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: PEER_TIMEOUT wants a positive integer" >&2; exit 2; }

# Which peers run which workload, in the order they alternate.
declare -A peers_of=(
    [spawn]="weft go tokio"
    [spawn_wg]="weft go"
    [yield]="weft go tokio"
    [sibling_wait]="weft go"
    [sleep_rss]="weft go tokio"
    [pingpong1]="weft go tokio threads"
    [pingpong2]="weft go tokio threads"
    [echo1]="weft threads"
    [echo1000]="weft tokio go epoll"
    [http]="weft tokio go may"
    [idle_rss]="weft tokio go"
)
IFS=, read -r -a workloads <<<"$only"
for w in "${workloads[@]}"; do
    [ -n "${peers_of[$w]:-}" ] || { echo "run.sh: unknown workload $w (known: $all)" >&2; exit 2; }
done
is_network() { case $1 in echo1|echo1000|http|idle_rss) return 0 ;; *) return 1 ;; esac; }

source common/peers.sh # bin, loadgen, build_peers

tmp=$(mktemp -d)
results=$tmp/results
: >"$results"
server_tpid= # the `timeout` wrapping the running server, if any
server_pid=  # the server itself
stop_server() {
    [ -n "$server_tpid" ] || return 0
    kill "$server_tpid" 2>/dev/null || true # timeout passes the TERM on to the server
    for _ in $(seq 50); do kill -0 "$server_tpid" 2>/dev/null || break; sleep 0.1; done
    [ -z "$server_pid" ] || kill -KILL "$server_pid" 2>/dev/null || true
    kill -KILL "$server_tpid" 2>/dev/null || true
    wait "$server_tpid" 2>/dev/null || true
    server_tpid= server_pid=
}
trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# What the table shows instead of numbers for a peer (or workload) that
# cannot run at all: peer -> reason, workload -> reason.
declare -A unavailable=()
declare -A skip_workload=()

needed=" "
for w in "${workloads[@]}"; do
    for p in ${peers_of[$w]}; do [[ $needed == *" $p "* ]] || needed+="$p "; done
    if is_network "$w" && [[ $needed != *" loadgen "* ]]; then needed+="loadgen "; fi
done

# shellcheck disable=SC2086 # one word per peer
build_peers $needed
if [ -n "${unavailable[loadgen]:-}" ]; then
    for w in "${workloads[@]}"; do is_network "$w" && skip_workload[$w]="n/a (loadgen build failed)"; done
fi
for w in "${workloads[@]}"; do
    if [ "$w" = http ] && ! command -v wrk >/dev/null; then
        skip_workload[http]="n/a (wrk missing)"
        echo "!! wrk is not installed: the http workload is skipped (apt-get install -y wrk)" >&2
    fi
done

# A port below the kernel's ephemeral range (so no client socket holds it)
# that nothing is bound to right now.
free_port() {
    python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randint(min(10000, low - 1000), low - 1)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
PY
}

# Starts `peer`'s server of the given kind on a fresh port, in the
# background, and waits (15 s at most) until it accepts connections.
# Sets `port`, `server_tpid` and `server_pid`.
start_server() {
    local peer=$1 kind=$2
    port=$(free_port)
    [ -n "$port" ] || { why="no free port"; return 1; }
    # The server's own time bound in case this script dies without its trap.
    timeout -s KILL $((limit * 2 + 60)) "${bin[$peer]}" "$kind" "$port" >"$tmp/server.log" 2>&1 &
    server_tpid=$!
    for _ in $(seq 150); do
        kill -0 "$server_tpid" 2>/dev/null || { why="server exited at start"; return 1; }
        server_pid=$(pgrep -P "$server_tpid" || true)
        if [ -n "$server_pid" ] && (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    why="server not listening on port $port after 15 s"
    return 1
}

# Runs one network workload against `peer` and stops its server again.
# Sets `out` (the RESULT line on success) and `why` (on failure). Runs in
# this shell, not a subshell, so the exit trap always knows the server.
run_network() {
    local w=$1 peer=$2 rc=0 rps errs kind=echo-server
    [ "$w" = http ] && kind=http-server
    out= why=
    : >"$tmp/client.log"
    start_server "$peer" "$kind" || { stop_server; return 1; }
    case $w in
        echo1) out=$(timeout "$limit" "$loadgen" echo1 "$port" 2>"$tmp/client.log") || rc=$? ;;
        echo1000) out=$(timeout "$limit" "$loadgen" echo1000 "$port" --server-pid "$server_pid" 2>"$tmp/client.log") || rc=$? ;;
        idle_rss) out=$(timeout "$limit" "$loadgen" idle_rss "$port" "$server_pid" 2>"$tmp/client.log") || rc=$? ;;
        http)
            # First check that the server answers correctly and serves all
            # 256 connections at once, keeping them alive: wrk itself looks
            # at no reply and ignores connections that never get one.
            timeout 30 "$loadgen" http-check "$port" --conns 256 2>"$tmp/check.log" || rc=$?
            if [ $rc -ne 0 ]; then
                why="http-check: $(tail -n 1 "$tmp/check.log")"
                [ $rc -eq 124 ] && why="http-check timed out"
                stop_server
                return 1
            fi
            out=$(timeout "$limit" wrk -t2 -c256 -d5s "http://127.0.0.1:$port/") || rc=$?
            if [ $rc -eq 0 ]; then
                errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' \n' ' ' || true)
                rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
                out=
                if [ -n "$errs" ]; then
                    rc=1 why="wrk reported$errs"
                elif [ -n "$rps" ]; then
                    out="RESULT http $rps req/s"
                fi
            fi ;;
    esac
    if ! kill -0 "$server_tpid" 2>/dev/null; then
        why="server died during the run"
        [ $rc -ne 0 ] || rc=1
    fi
    stop_server
    if [ $rc -eq 124 ]; then why="timed out after ${limit}s"; return 1; fi
    if [ $rc -ne 0 ] && [ -z "$why" ] && [ -s "$tmp/client.log" ]; then why=$(tail -n 1 "$tmp/client.log"); fi
    if [ $rc -ne 0 ]; then why=${why:-exit status $rc}; return 1; fi
}

failures=0
for w in "${workloads[@]}"; do
    for ((i = 1; i <= runs; i++)); do
        for peer in ${peers_of[$w]}; do
            reason=${skip_workload[$w]:-${unavailable[$peer]:-}}
            if [ -z "$reason" ] && is_network "$w" && [ -n "${unavailable[loadgen]:-}" ]; then
                reason="n/a (loadgen build failed)"
            fi
            if [ -n "$reason" ]; then
                if [ "$i" -eq 1 ]; then
                    echo "$w $peer na $reason" >>"$results"
                    failures=$((failures + 1))
                fi
                continue
            fi
            rc=0 why=
            if is_network "$w"; then
                run_network "$w" "$peer" || rc=$?
            else
                out=$(timeout "$limit" "${bin[$peer]}" "$w") || rc=$?
                [ $rc -eq 124 ] && why="timed out after ${limit}s" || why="exit status $rc"
            fi
            line=$(grep -E "^RESULT $w " <<<"$out" || true)
            if [ $rc -ne 0 ] || [ -z "$line" ]; then
                [ $rc -ne 0 ] || why="no RESULT line"
                echo "!! $peer $w run $i failed (${why})" >&2
                if is_network "$w" && [ -s "$tmp/server.log" ]; then
                    tail -n 3 "$tmp/server.log" | sed 's/^/   server: /' >&2
                fi
                failures=$((failures + 1))
                echo "$w $peer fail -" >>"$results"
                continue
            fi
            echo "   $peer $w run $i: ${line#RESULT $w }" >&2
            read -r _ _ value unit <<<"$line"
            echo "$w $peer $value $unit" >>"$results"
            # Extra figures a run reports besides its own (echo1000's server
            # CPU time per round trip), as rows of their own.
            while read -r _ extra value unit; do
                echo "$extra $peer $value $unit" >>"$results"
            done < <(grep -E "^RESULT ${w}_[a-z0-9]+ " <<<"$out" || true)
        done
    done
done

echo
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "rustc: $(rustc --version 2>/dev/null || echo none); go: $(go version 2>/dev/null | awk '{print $3}' || echo none)"
echo "runs per peer: $runs (median shown)"
echo
python3 - "$results" <<'PY'
import sys

sys.path.insert(0, "common")
from results import fmt, load, median

rows, units = load(sys.argv[1], 1, key=lambda head: head[0])

def med(w, peer):
    return median(rows[w].get(peer))

def advantage(w, peer):
    if peer == "weft":
        return "-"
    a, b = med(w, peer), med(w, "weft")
    if a is None or not b:
        return "n/a"
    # Rates (".../s") are better higher, costs (time, bytes) lower; either
    # way above 1 favours weft.
    return f"{b / a:.2f}x" if units[w].endswith("/s") else f"{a / b:.2f}x"

print("| workload | peer | median | min - max | ok runs | weft advantage |")
print("|---|---|---|---|---|---|")
for w, peers in rows.items():
    unit = units.get(w, "")
    for peer, cell in peers.items():
        vals = cell["vals"]
        if cell["na"]:
            print(f"| {w} | {peer} | {cell['na']} | | | |")
            continue
        n = len(vals) + cell["fails"]
        if not vals:
            print(f"| {w} | {peer} | fail | | 0/{n} | n/a |")
            continue
        print(f"| {w} | {peer} | {fmt(med(w, peer))} {unit} | {fmt(min(vals))} - {fmt(max(vals))}"
              f" | {len(vals)}/{n} | {advantage(w, peer)} |")
print()
print("weft advantage: how many times better weft's median is than the peer's"
      " (peer/weft for times and bytes, weft/peer for req/s). Above 1 favours"
      " weft, below 1 favours the peer; 0.91x would mean the peer is 10% ahead.")
PY
[ $failures -eq 0 ] || { echo "run.sh: $failures run(s) failed or could not run, see above" >&2; exit 1; }
