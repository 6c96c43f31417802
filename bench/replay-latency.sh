#!/usr/bin/env bash
# Replay latency accuracy: what `shadowdiff replay` measures against targets whose answer time is
# known. Two fixture-bidder processes (release build) answer every request exactly 2.000 ms after
# reading it (`--delay-us 2000`; fixtures/README.md): one `--build baseline`, one `--build candidate
# --slow-ms 0` (the candidate's answers, without its slowed share). The replay is open-loop:
#   shadowdiff replay --rate 2000 --duration SECONDS --loop --connections 64
# (2,000 exchanges/s, each sent to both sides; 64 keep-alive connections per side) of
# captures/sample.pcap. Per side, from the `results` table (warm-up rows left out; percentiles
# with ORDER BY ... LIMIT 1 OFFSET n*p in sqlite3), minus the 2.000 ms the target waits:
#   latency_ns  intended send time -> last response byte (no coordinated omission)
#   service_ns  actual write -> last response byte
# and send_lag_ns (how late the replayer sent, as is). Beside it, wrk --latency with the same 64
# connections against one fixture, and each fixture's own `--timing-report` (how long after the
# 2 ms it wrote its answers), which separates the target's share of the excess from the
# replayer's. And bench/probes/paced-floor.c, a minimal C open-loop client at the same rate and
# connections on two fresh fixtures: what any replayer can measure on this machine.
# Goal: latency_ns p50 <= +100 µs, p99 <= +300 µs over 2.000 ms.
#
# Usage: bash bench/replay-latency.sh [seconds of load, default 10]
#        REPLAY_FLAGS="..." adds flags to the replay (e.g. --no-hold-cpu-latency).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
RATE=2000
CONNS=64
DELAY_US=2000
. bench/lib/setup.sh
require wrk=wrk sqlite3=sqlite3 bc=bc cc=gcc
build_shadowdiff
swift build -c release --product fixture-bidder >/dev/null
. bench/lib/replay.sh
work=$(mktemp -d /tmp/shadowdiff-replay-lat.XXXXXX)
trap stop_all EXIT
sample_db "$work/sample.db"
cc -O2 -o "$work/paced-floor" bench/probes/paced-floor.c
exchanges=$(sqlite3 "$work/sample.db" "SELECT count(*) FROM exchanges")

start_fixture "$work/fixture-baseline" --build baseline --delay-us "$DELAY_US" --timing-report
base_pid=$FIXTURE_PID; base_port=$FIXTURE_PORT
start_fixture "$work/fixture-candidate" --build candidate --slow-ms 0 --delay-us "$DELAY_US" --timing-report
cand_pid=$FIXTURE_PID; cand_port=$FIXTURE_PORT

db=$work/replay.db
copy_db "$work/sample.db" "$db"
replay_args=(--db "$db" --baseline "http://127.0.0.1:$base_port" --candidate "http://127.0.0.1:$cand_port"
    --run latency --rate "$RATE" --duration "$SECS" --loop --connections "$CONNS" ${REPLAY_FLAGS:-})
if ! "$bin/shadowdiff" replay "${replay_args[@]}" >"$work/replay.out" 2>"$work/replay.err"; then
    echo "shadowdiff replay failed:" >&2; cat "$work/replay.out" "$work/replay.err" >&2; exit 1
fi
kill -TERM "$base_pid" "$cand_pid"; wait "$base_pid" "$cand_pid" || true

# The floor of any open-loop client here, on two fresh fixtures: bench/probes/paced-floor.c sends
# the same rate over the same connections, one C thread that sleeps in epoll and spins the last
# 100 µs (as the replay's loops do), and keeps nothing but the timings.
start_fixture "$work/fixture-floor-baseline" --build baseline --delay-us "$DELAY_US"
floor_base_pid=$FIXTURE_PID; floor_base_port=$FIXTURE_PORT
start_fixture "$work/fixture-floor-candidate" --build candidate --slow-ms 0 --delay-us "$DELAY_US"
floor_cand_pid=$FIXTURE_PID; floor_cand_port=$FIXTURE_PORT
floor_cmd=(paced-floor -r "$RATE" -c "$CONNS" -d "$SECS" -w 0 -o "$DELAY_US" -f fixtures/requests/01-banner-300x250-site.json)
python3 bench/lib/hold-cpu-latency.py "$work/paced-floor" -a "$floor_base_port" -b "$floor_cand_port" "${floor_cmd[@]:1}" \
    >"$work/floor.txt"
kill -TERM "$floor_base_pid" "$floor_cand_pid"; wait "$floor_base_pid" "$floor_cand_pid" || true

# wrk on a fresh fixture, so its --timing-report counts wrk's requests alone.
start_fixture "$work/fixture-wrk" --build baseline --delay-us "$DELAY_US" --timing-report
wrk_pid=$FIXTURE_PID; wrk_port=$FIXTURE_PORT
# Under the same CPU wake-up latency hold the replay takes by default (--hold-cpu-latency).
python3 bench/lib/hold-cpu-latency.py wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s bench/lib/openrtb-post.lua \
    "http://127.0.0.1:$wrk_port/openrtb2/auction" >"$work/wrk.txt" 2>&1
kill -TERM "$wrk_pid"; wait "$wrk_pid" || true

OFFSET_NS=$((DELAY_US * 1000))
row() {  # row LABEL SIDE COLUMN OFFSET_NS
    local n OFFSET_NS=$4
    n=$(count_rows "$db" latency "$2")
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n" "$1" "$2" "$(thousands "$n")" \
        "$(thousands "$(echo "$n / $SECS" | bc -l)")" \
        "$(us "$(percentile_ns "$db" latency "$2" "$3" 0.5)")" "$(us "$(percentile_ns "$db" latency "$2" "$3" 0.99)")" \
        "$(us "$(percentile_ns "$db" latency "$2" "$3" 0.999)")" "$(us "$(percentile_ns "$db" latency "$2" "$3" max)")"
}
wrk_us() {  # wrk_us PATTERN FIELD: a wrk latency figure in µs minus the delay
    awk -v d="$DELAY_US" -v pat="$1" -v f="$2" '
        function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
        $0 ~ pat { printf "%+.0f", us($f) - d; exit }' "$work/wrk.txt"
}
report_row() {  # report_row LABEL FILE: a fixture's --timing-report line as a row (µs after its deadline)
    local line
    line=$(grep -o 'delayed replies: .*' "$2" || true)
    if [ -z "$line" ]; then printf "| %s | — | no report | | | | | |\n" "$1"; return; fi
    printf "| %s | after its deadline | %s | | +%s | +%s | +%s | +%s |\n" "$1" \
        "$(thousands "$(sed 's/delayed replies: \([0-9]*\).*/\1/' <<<"$line")")" \
        "$(sed 's/.* p50 \([^ ]*\).*/\1/' <<<"$line")" "$(sed 's/.* p99 \([^ ]*\).*/\1/' <<<"$line")" \
        "$(sed 's/.* p99\.9 \([^ ]*\).*/\1/' <<<"$line")" "$(sed 's/.* max \([^ ]*\).*/\1/' <<<"$line")"
}

echo
echo "Command: \`bash bench/replay-latency.sh $SECS\` — targets answer $DELAY_US µs after reading each request;"
echo "figures are µs over 2.000 ms (send lag and fixture rows: as is); $exchanges captured exchanges (captures/sample.pcap) replayed in a loop."
echo
echo "| measured by | side | requests | req/s | p50 µs | p99 µs | p99.9 µs | max µs |"
echo "|---|---|---|---|---|---|---|---|"
for side in baseline candidate; do row "replay latency_ns (intended send → last byte)" $side latency_ns "$OFFSET_NS"; done
for side in baseline candidate; do row "replay service_ns (write → last byte)" $side service_ns "$OFFSET_NS"; done
for side in baseline candidate; do row "replay send_lag_ns (as is)" $side send_lag_ns 0; done
floor_row() {  # floor_row SIDE MEASURE: paced-floor's figures for one side as a row
    awk -v side="$1" -v m="$2" -v secs="$SECS" '$1 == side && $2 == m {
        printf "| paced-floor (C, one thread) %s | %s | %s | %s | %s | %s | %s | %s |\n", m, side, $3, int($3 / secs), $4, $5, $6, $7 }' "$work/floor.txt"
}
for side in baseline candidate; do floor_row $side latency; done
for side in baseline candidate; do floor_row $side service; done
printf "| wrk --latency -c%s, closed loop | one fixture | %s | %s | %s | %s | — | %s |\n" "$CONNS" \
    "$(thousands "$(awk '/requests in/ {print $1}' "$work/wrk.txt")")" \
    "$(thousands "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")")" \
    "$(wrk_us '^ +50%' 2)" "$(wrk_us '^ +99%' 2)" "$(wrk_us '^ +Latency' 4)"
report_row "fixture-bidder --timing-report, baseline" "$work/fixture-baseline.err"
report_row "fixture-bidder --timing-report, candidate" "$work/fixture-candidate.err"
report_row "fixture-bidder --timing-report, wrk's" "$work/fixture-wrk.err"
echo
OFFSET_NS=$((DELAY_US * 1000))
for side in baseline candidate; do
    p50=$(percentile_ns "$db" latency $side latency_ns 0.5); p99=$(percentile_ns "$db" latency $side latency_ns 0.99)
    verdict=met
    [ -n "$p50" ] && [ "$p50" -le $((OFFSET_NS + 100000)) ] && [ "$p99" -le $((OFFSET_NS + 300000)) ] || verdict="NOT met"
    echo "- goal latency_ns p50 <= +100 µs and p99 <= +300 µs, $side: **$verdict** (p50 $(us "$p50"), p99 $(us "$p99"))"
done
echo "- replay errors: $(count_errors "$db" latency)"
echo "- CPU wake-up latency: the replay holds /dev/cpu_dma_latency at 0 (its default, --hold-cpu-latency), and wrk ran under the same hold; $(grep -h 'not held' "$work/replay.err" "$work/wrk.txt" | head -1 || true)"
echo "- wrk is wrk, not wrk2: closed loop. Each of its $CONNS connections sends its next request only when the"
echo "  previous answer is in, so it runs as fast as $CONNS connections allow (about $CONNS / 2 ms) and its figures leave"
echo "  out the time a request waited to be sent (coordinated omission); the replay's latency_ns includes it."
wrk_rate=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
echo "- wrk ran at $(thousands "$wrk_rate") req/s, $(printf %.1f "$(echo "$wrk_rate / $RATE" | bc -l)")× the replay's $RATE per side: its figures include"
echo "  what that load does to the fixture (its \"wrk's\" --timing-report row)."
echo "- replay: \`shadowdiff replay --db DB --baseline http://127.0.0.1:$base_port --candidate http://127.0.0.1:$cand_port --run latency --rate $RATE --duration $SECS --loop --connections $CONNS\`"
echo "- paced-floor: \`${floor_cmd[*]} -a PORT -b PORT\` (bench/probes/paced-floor.c) on two fresh fixtures, under the same hold; send lag p50 / p99 µs: $(awk '/^send_lag/ {print $2 " / " $3}' "$work/floor.txt"), sent late: $(awk '/^late/ {print $2}' "$work/floor.txt")"
echo "- wrk: \`wrk -t1 -c$CONNS -d${SECS}s --latency -s bench/lib/openrtb-post.lua http://127.0.0.1:$wrk_port/openrtb2/auction\`"
echo "- targets: \`fixture-bidder --build baseline --delay-us $DELAY_US --timing-report\`, \`fixture-bidder --build candidate --slow-ms 0 --delay-us $DELAY_US --timing-report\`"
