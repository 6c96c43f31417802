#!/usr/bin/env bash
# A Python/Django-style baseline: fixtures/threading_bidder.py (ThreadingHTTPServer, listen backlog
# 5, head and body in two writes, about 40 ms per answer) on both sides. REQUESTS distinct bid
# requests are recorded through `shadowdiff capture mirror`, then replayed A/A with --concurrency
# 16, --concurrency 32 and --rate 200, each diffed with the default gates; beside them, wrk -c16
# and -c32 (-d5s) against one of the same servers. Prints, per run: errors per side, latency p50 and
# p99, connections made ready before the clock (and how many needed SYN retransmissions), and the
# diff's exit code; for wrk: requests, socket errors and timeouts, p50 and p99.
#
# Usage: bash bench/small-backlog.sh [REQUESTS, default 1100]
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-1100}
. bench/lib/setup.sh
require wrk=wrk sqlite3=sqlite3 python3=python3
build_shadowdiff
. bench/lib/replay.sh
work=$(mktemp -d /tmp/shadowdiff-backlog.XXXXXX)
trap stop_all EXIT

db=$work/backlog.db
"$bin/shadowdiff" capture mirror --listen 127.0.0.1:0 --db "$db" >"$work/mirror.out" 2>"$work/mirror.err" &
mirror_pid=$!
for _ in $(seq 100); do grep -qs 'listening on' "$work/mirror.err" && break; sleep 0.05; done
mirror_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/mirror.err" | head -1)
python3 fixtures/make_bid_requests.py "$REQUESTS" 20250 --post "http://127.0.0.1:$mirror_port/openrtb2/auction" >/dev/null
kill -TERM "$mirror_pid"; wait "$mirror_pid"

# start_python NAME: a threading_bidder.py; sets $port.
start_python() {
    python3 fixtures/threading_bidder.py >"$work/$1.out" 2>&1 &
    for _ in $(seq 100); do grep -qs 'listening on' "$work/$1.out" && break; sleep 0.05; done
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/$1.out")
}
start_python baseline; base_port=$port
start_python candidate; cand_port=$port

echo "| run | errors baseline | errors candidate | p50 | p99 | connections ready (slow) | diff exit |"
echo "|---|---|---|---|---|---|---|"
n=0
for timing in "--concurrency 16" "--concurrency 32" "--rate 200"; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    "$bin/shadowdiff" replay --db "$db" --baseline "http://127.0.0.1:$base_port" --candidate "http://127.0.0.1:$cand_port" \
        --run "r$n" $timing >"$work/replay.out" 2>&1
    errors() { sed -n "s/^  $1 *sent [0-9]*  errors: //p" "$work/replay.out"; }
    lat() { sed -n "/^  baseline /{n;s/.*latency p50 \([0-9.]* ms\)  p99 \([0-9.]* ms\).*/\\$1/p}" "$work/replay.out"; }
    ready=$(sed -n 's/^  baseline *connections \([0-9/]*\) ready.*/\1/p' "$work/replay.out")
    slow=$(sed -n 's/^  baseline *connections.*slow_connect \([0-9]*\).*/\1/p' "$work/replay.out")
    rc=0; "$bin/shadowdiff" diff --db "$db" --run "r$n" >/dev/null 2>&1 || rc=$?
    echo "| replay $timing | $(errors baseline) | $(errors candidate) | $(lat 1) | $(lat 2) | $ready (${slow:-0}) | $rc |"
done
for c in 16 32; do
    wrk -t1 -c"$c" -d5s --timeout 2s --latency -s bench/lib/openrtb-post.lua "http://127.0.0.1:$base_port/openrtb2/auction" >"$work/wrk.txt" 2>&1
    reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk.txt")
    sock=$(sed -n 's/^ *Socket errors: //p' "$work/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt"); p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
    echo "| wrk -c$c -d5s --timeout 2s ($reqs requests) | ${sock:-none} | | $p50 | $p99 | | |"
done
