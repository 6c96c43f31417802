#!/usr/bin/env bash
# Builds a shadowdiff database with a replay run of exactly N exchanges whose baseline and candidate
# results are real OpenRTB responses, for the differ's benchmark (bench/diff-throughput.sh):
#
# 1. bench/lib/make-replay-db.sh DB N: captures/sample.pcap (104 exchanges: the 26
#    fixtures/requests/*.json posted 4 times) copied with SQL to N exchanges; exchange i holds the
#    same request as exchange ((i - 1) mod 104) + 1.
# 2. A real `shadowdiff replay --concurrency 32` of those exchanges, as run $RUN (default
#    `diffbench`), to two fixture bidders on loopback: `fixture-bidder --build baseline` and
#    `--build candidate --slow-ms 0` (the candidate's four documented differences, fixtures/README.md,
#    without its 5 ms delay, so the replay is quick). Every response carries its own noise (random
#    `bidid` and bid ids, the clock in `ext.ts`).
#
# By default every one of the N exchanges is replayed (1,000,000: about 5 minutes on the 2-core
# machine here, 3,700 exchanges/s; the fixture bidders are what limits it). REPLAY_EXCHANGES=M
# replays only the first M (rounded down to a multiple of 104) and fills the rest of the run by
# copying its `results` and `result_bodies` rows with INSERT ... SELECT under the later exchange
# ids, doubling each step as make-replay-db.sh does: the copy of exchange i's results goes to an
# exchange holding the same request (the shift is a multiple of 104), so the pairs stay real
# answers to their requests, but a copied pair repeats its original's noise values and latencies.
# run_counters keep the replay's own figures (M sent per side) and the script says what it copied.
#
# Usage: bash bench/lib/make-diff-db.sh DB N     (DB must not exist)
# Env:   RUN=name (default diffbench); REPLAY_EXCHANGES=M (default N); SHADOWDIFF=path/to/shadowdiff
#        skips the release builds (fixture-bidder is taken from the same directory).
# Progress: the replay's progress line on stderr; the last line on stdout says what was made.
set -euo pipefail
cd "$(dirname "$0")/../.."
db=${1:?usage: make-diff-db.sh DB N}
n=${2:?usage: make-diff-db.sh DB N}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer, got '$n'" >&2; exit 1; }
[ -e "$db" ] && { echo "$db exists; give a new file" >&2; exit 1; }
run=${RUN:-diffbench}
replayed=${REPLAY_EXCHANGES:-$n}
[[ $replayed =~ ^[1-9][0-9]*$ ]] || { echo "REPLAY_EXCHANGES must be a positive integer, got '$replayed'" >&2; exit 1; }
[ "$replayed" -gt "$n" ] && replayed=$n
if [ "$replayed" -lt "$n" ]; then
    # Copies must land on exchanges holding the same request: shifts are multiples of 104.
    replayed=$(( replayed / 104 * 104 ))
    [ "$replayed" -ge 104 ] || { echo "REPLAY_EXCHANGES must be at least 104 when smaller than N" >&2; exit 1; }
fi
. bench/lib/setup.sh
require sqlite3=sqlite3 bc=bc
if [ -n "${SHADOWDIFF:-}" ]; then
    bin=$(dirname "$SHADOWDIFF")
else
    build_shadowdiff
fi
[ -x "$bin/fixture-bidder" ] || swift build -c release --product fixture-bidder >/dev/null
[ -x "$bin/fixture-bidder" ] || { echo "no fixture-bidder in $bin" >&2; exit 1; }
. bench/lib/replay.sh   # start_fixture

work=$(mktemp -d /tmp/shadowdiff-make-diff-db.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

start=$(date +%s.%N)
SHADOWDIFF=$bin/shadowdiff bash bench/lib/make-replay-db.sh "$db" "$n" >&2
ids=$(sqlite3 "$db" "SELECT min(id) || ' ' || max(id) || ' ' || count(*) FROM exchanges")
[ "$ids" = "1 $n $n" ] || { echo "expected exchange ids 1..$n, found (min max count) $ids" >&2; exit 1; }
made_s=$(echo "$(date +%s.%N) - $start" | bc -l)

start_fixture "$work/baseline" --build baseline
pids+=("$FIXTURE_PID")
port_b=$FIXTURE_PORT
start_fixture "$work/candidate" --build candidate --slow-ms 0
pids+=("$FIXTURE_PID")
port_c=$FIXTURE_PORT

limit=()
[ "$replayed" -lt "$n" ] && limit=(--limit "$replayed")
replay_start=$(date +%s.%N)
echo "replaying $(thousands "$replayed") exchanges to fixture-bidder baseline :$port_b and candidate :$port_c (--slow-ms 0)" >&2
if ! "$bin/shadowdiff" replay --db "$db" --baseline "http://127.0.0.1:$port_b" --candidate "http://127.0.0.1:$port_c" \
    --run "$run" --concurrency 32 "${limit[@]}" >"$work/replay.out"; then
    echo "shadowdiff replay failed:" >&2
    cat "$work/replay.out" >&2
    exit 1
fi
sed 's/^/  /' "$work/replay.out" >&2
replay_s=$(echo "$(date +%s.%N) - $replay_start" | bc -l)
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

run_id=$(sqlite3 "$db" "SELECT id FROM runs WHERE name = '$run'")
answered=$(sqlite3 "$db" "SELECT count(*) FROM (SELECT exchange_id FROM results WHERE run_id = $run_id AND warmup = 0
    GROUP BY pass, exchange_id HAVING count(*) = 2)")
[ "$answered" -eq "$replayed" ] || { echo "the replay stored $answered pairs, wanted $replayed" >&2; exit 1; }

copy_s=0
if [ "$replayed" -lt "$n" ]; then
    copy_start=$(date +%s.%N)
    echo "copying the results of exchanges 1..$replayed up to exchange $n" >&2
    {
        echo "PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;"
        count=$replayed
        while [ "$count" -lt "$n" ]; do   # doubles each step: at most log2(N/104) steps
            add=$(( n - count < count ? n - count : count ))
            cat <<SQL
BEGIN;
INSERT INTO results (run_id, pass, exchange_id, side, status, first_byte_ns, latency_ns, service_ns, send_lag_ns,
        scheduled_ns, response_bytes, error, warmup)
    SELECT run_id, pass, exchange_id + $count, side, status, first_byte_ns, latency_ns, service_ns, send_lag_ns,
        scheduled_ns, response_bytes, error, warmup
    FROM results WHERE run_id = $run_id AND exchange_id <= $add ORDER BY pass, exchange_id, side;
INSERT INTO result_bodies (run_id, pass, exchange_id, side, headers, body, error_message)
    SELECT run_id, pass, exchange_id + $count, side, headers, body, error_message
    FROM result_bodies WHERE run_id = $run_id AND exchange_id <= $add ORDER BY pass, exchange_id, side;
COMMIT;
SQL
            count=$(( count + add ))
        done
        echo "PRAGMA journal_mode = WAL;"
    } | sqlite3 "$db" >/dev/null
    copy_s=$(echo "$(date +%s.%N) - $copy_start" | bc -l)
fi

pairs=$(sqlite3 "$db" "SELECT count(*) FROM result_pairs WHERE run = '$run'")
bodies=$(sqlite3 "$db" "SELECT count(*) FROM result_bodies WHERE run_id = $run_id")
[ "$pairs" -eq "$n" ] && [ "$bodies" -eq $(( 2 * n )) ] ||
    { echo "made $pairs pairs and $bodies bodies, wanted $n and $(( 2 * n ))" >&2; exit 1; }
# A spot check that copies answer their own request: the first 1,000 exchanges against the ones a
# shift of $replayed away hold the same request bodies.
if [ "$replayed" -lt "$n" ]; then
    bad=$(sqlite3 "$db" "SELECT count(*) FROM exchange_bodies a JOIN exchange_bodies b
        ON b.exchange_id = a.exchange_id + $replayed WHERE a.exchange_id <= 1000 AND a.request_body IS NOT b.request_body")
    [ "$bad" -eq 0 ] || { echo "$bad copied pairs sit on exchanges with another request" >&2; exit 1; }
fi
errors=$(count_errors "$db" "$run")
total_s=$(echo "$(date +%s.%N) - $start" | bc -l)
how="all replayed"
[ "$replayed" -lt "$n" ] && how="$replayed replayed, $(( n - replayed )) copied from them with SQL"
printf "%s: run '%s' of %s pairs (%s), replay errors: %s; %s MB; %.0f s (exchanges %.0f s, replay %.0f s, copies %.0f s)\n" \
    "$db" "$run" "$n" "$how" "$errors" "$(( $(stat -c %s "$db") / 1000000 ))" "$total_s" "$made_s" "$replay_s" "$copy_s"
