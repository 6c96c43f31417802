#!/usr/bin/env bash
# Open-loop rate: how high a `--rate` the replay keeps on schedule. Two throwaway nginx (one worker
# each, bench/lib/nginx.sh) play the baseline and the candidate and answer at once, so what falls
# behind is the replay (or the machine). For each rate R: one `shadowdiff replay --rate R --loop
# --duration SECONDS` of 104 requests wrk sent (recorded through `shadowdiff capture proxy`), every
# answer stored. Reported per rate, from the stored rows (baseline side, warm-up none): requests
# answered per second, send lag p50/p99 (actual write − intended send time), requests sent late
# and why (no free lane, or the store behind), latency p50/p99 from the intended send time.
# Beside them, the ceiling in the same run: two wrk (closed loop, -t1 -c64, one per nginx) at once,
# requests/s per nginx; an open loop cannot keep a rate the machine cannot carry at all. Each run
# starts after `sync` and its database is deleted once read, so no run pays for another's writeback.
#
# Usage: bash bench/replay-rate.sh [seconds per run, default 5] [rates, default "2000 10000 20000 30000"]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
RATES=${2:-2000 10000 20000 30000}
. bench/lib/setup.sh
require wrk=wrk nginx=nginx-light sqlite3=sqlite3 bc=bc pgrep=procps curl=curl
build_shadowdiff
. bench/lib/nginx.sh
. bench/lib/replay.sh
work=$(mktemp -d /tmp/shadowdiff-replay-rate.XXXXXX)
trap stop_all EXIT
start_target_nginx "$work"
wrk_db "$work/requests.db" "$port_a"

pids=()
for port in "$port_a" "$port_b"; do
    wrk -t1 -c64 -d"${SECS}s" -s bench/lib/openrtb-post.lua "http://127.0.0.1:$port/openrtb2/auction" >"$work/wrk-$port.txt" 2>&1 &
    pids+=($!)
done
wait "${pids[@]}"
ceiling=$(cat "$work"/wrk-*.txt | awk '/Requests\/sec/ {s += $2; n++} END {printf "%.0f", s / n}')

echo "Command: \`bash bench/replay-rate.sh $SECS \"$RATES\"\` — two nginx (one worker each) on 127.0.0.1:$port_a and :$port_b."
echo
echo "| --rate (per side) | answered/s per side | send lag p50 µs | send lag p99 µs | late (no free lane, store behind) | latency p50 µs | latency p99 µs |"
echo "|---|---|---|---|---|---|---|"
for rate in $RATES; do
    db=$work/replay-$rate.db
    copy_db "$work/requests.db" "$db"
    sync
    if ! "$bin/shadowdiff" replay --db "$db" --baseline "http://127.0.0.1:$port_a" --candidate "http://127.0.0.1:$port_b" \
        --run "rate-$rate" --rate "$rate" --loop --duration "$SECS" >"$work/replay.out" 2>"$work/replay.err"; then
        echo "shadowdiff replay failed at --rate $rate:" >&2; cat "$work/replay.out" "$work/replay.err" >&2; exit 1
    fi
    run=rate-$rate
    answered=$(count_rows "$db" "$run" baseline)
    errors=$(count_errors "$db" "$run")
    [ "$errors" = none ] || echo "note: --rate $rate errors: $errors" >&2
    counter() { sqlite3 "$db" "SELECT coalesce(sum(value), 0) FROM run_counters WHERE name = '$1'
        AND run_id = (SELECT id FROM runs WHERE name = '$run')"; }
    late=$(counter late_requests); store=$(counter late_store_behind)
    printf "| %s | %s | %s | %s | %s (%s, %s) | %s | %s |\n" "$(thousands "$rate")" "$(thousands "$(echo "$answered / $SECS" | bc -l)")" \
        "$(us "$(percentile_ns "$db" "$run" baseline send_lag_ns 0.5)")" "$(us "$(percentile_ns "$db" "$run" baseline send_lag_ns 0.99)")" \
        "$(thousands "$late")" "$(thousands $((late - store)))" "$(thousands "$store")" \
        "$(us "$(percentile_ns "$db" "$run" baseline latency_ns 0.5)")" "$(us "$(percentile_ns "$db" "$run" baseline latency_ns 0.99)")"
    # Deleted, its pages are never written back: the next rate's run does not pay for this one's I/O.
    rm -f "$db" "$db-wal" "$db-shm"
done
echo
echo "- ceiling: 2 × \`wrk -t1 -c64 -d${SECS}s -s bench/lib/openrtb-post.lua\`, one per nginx, at once: $(thousands "$ceiling") req/s per nginx (closed loop, nothing stored)"
echo "- replay: \`shadowdiff replay --db DB --baseline http://127.0.0.1:$port_a --candidate http://127.0.0.1:$port_b --run NAME --rate R --loop --duration $SECS\` (64 connections per side, the default)"
