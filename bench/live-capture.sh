#!/usr/bin/env bash
# Live capture completeness: wrk posts OpenRTB requests to nginx on lo for $SECONDS_OF_LOAD s at each
# connection count while `shadowdiff capture --interface lo` records; nginx's access log counts
# exactly what it answered. Reports per run: requests nginx answered, req/s, exchanges stored,
# libpcap's kernel drops and every other drop counter, and shadowdiff's peak RSS.
# A baseline run without capture shows what the machine does without shadowdiff.
#
# Usage: [CAPTURE_FLAGS="--no-immediate-mode ..."] bash bench/live-capture.sh [seconds, default 10] [connection counts, default "16 64 256"]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_OF_LOAD=${1:-10}
CONNS=${2:-16 64 256}
. bench/lib/setup.sh
require wrk=wrk nginx=nginx-light sqlite3=sqlite3
build_shadowdiff
. bench/lib/nginx.sh
work=$(mktemp -d /tmp/shadowdiff-live.XXXXXX)
trap 'stop_nginx; rm -rf "$work"' EXIT

run() {  # run CONNS CAPTURE(yes|no)
    local conns=$1 capture=$2 port=$((20000 + RANDOM % 20000))
    rm -rf "$work/ng" "$work/live.db"*
    mkdir -p "$work/ng"
    start_nginx "$work/ng" "$port" 1
    # start_nginx has no access log; count requests with a logging server block instead
    sed -i "s|access_log off;|access_log $work/ng/access.log;|" "$work/ng/nginx.conf"
    kill -HUP "$NGINX_PID"; sleep 0.3; : >"$work/ng/access.log"
    local cap_pid=""
    if [ "$capture" = yes ]; then
        /usr/bin/time -f "%M" -o "$work/rss.txt" "$bin/shadowdiff" capture --interface lo --filter "tcp port $port" ${CAPTURE_FLAGS:-} \
            --db "$work/live.db" >"$work/capture.out" 2>"$work/capture.err" &
        cap_pid=$!
        for _ in $(seq 100); do grep -q "capturing on" "$work/capture.err" && break; sleep 0.05; done
    fi
    wrk -t1 -c"$conns" -d"${SECONDS_OF_LOAD}s" -s bench/lib/openrtb-post.lua "http://127.0.0.1:$port/openrtb2/auction" >"$work/wrk.txt"
    sleep 0.5
    local answered
    answered=$(wc -l <"$work/ng/access.log")
    local rate
    rate=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
    if [ -n "$cap_pid" ]; then
        local start end
        start=$(date +%s.%N)
        pkill -INT -P "$cap_pid"; wait "$cap_pid" || true  # GNU time ignores SIGINT: signal its child
        end=$(date +%s.%N)
        local stored drops kdrop rss
        stored=$(sqlite3 "$work/live.db" "SELECT count(*) FROM exchanges")
        kdrop=$(sqlite3 "$work/live.db" "SELECT coalesce(sum(value),0) FROM capture_counters WHERE name='kernel_dropped'")
        drops=$(sqlite3 "$work/live.db" "SELECT group_concat(name || '=' || value, ' ') FROM capture_counters WHERE value > 0 AND name NOT IN ('packets','bytes','tcp_connections','exchanges','requests','responses','pcap_received')")
        rss=$(( $(cat "$work/rss.txt") / 1024 ))
        printf "%6s %10s %10s %10s %8.2f%% %8s %7s MB %6.1f s  %s\n" "$conns" "$answered" "$rate" "$stored" \
            "$(echo "100 * $stored / $answered" | bc -l)" "$kdrop" "$rss" "$(echo "$end - $start" | bc -l)" "${drops:-none}"
    else
        printf "%6s %10s %10s %10s %9s %8s %10s %8s  %s\n" "$conns" "$answered" "$rate" "-" "-" "-" "-" "-" "(no capture)"
    fi
    stop_nginx
}

printf "%6s %10s %10s %10s %9s %8s %10s %8s  %s\n" conns answered "req/s" stored "stored%" kdropped "peak RSS" "drain" "other counters"
for c in $CONNS; do
    run "$c" no
    run "$c" yes
done
