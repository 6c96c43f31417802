#!/usr/bin/env bash
# Replay memory: `shadowdiff replay` must stream through the database, so its peak RSS must not
# grow with the capture. Builds a database of N exchanges (bench/lib/make-replay-db.sh: the 104 of
# captures/sample.pcap, copied with SQL), replays every one of them once with --concurrency 32
# to two throwaway nginx (one worker each, bench/lib/nginx.sh) as baseline and candidate, under
# GNU time -v, and reports the replay's peak RSS (goal <= 150 MB) and its rate. A short replay of
# the first 10,000 exchanges (--limit) beside it shows what RSS a small run reaches.
#
# Usage: bash bench/replay-memory.sh [exchanges, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
CONNS=32
SMALL=10000
. bench/lib/setup.sh
require nginx=nginx-light sqlite3=sqlite3 /usr/bin/time=time bc=bc
build_shadowdiff
. bench/lib/nginx.sh
. bench/lib/replay.sh
work=$(mktemp -d /tmp/shadowdiff-replay-mem.XXXXXX)
trap stop_all EXIT
start_target_nginx "$work"

make_start=$(date +%s.%N)
SHADOWDIFF=$bin/shadowdiff bash bench/lib/make-replay-db.sh "$work/big.db" "$N" >&2
make_s=$(echo "$(date +%s.%N) - $make_start" | bc -l)
db_mb=$(( $(stat -c %s "$work/big.db") / 1000000 ))

replay() {  # replay NAME [EXTRA ARGS...] -> "wall_s peak_rss_kb exchanges rows"
    local name=$1
    shift
    if ! /usr/bin/time -v -o "$work/time-$name" "$bin/shadowdiff" replay --db "$work/big.db" \
        --baseline "http://127.0.0.1:$port_a" --candidate "http://127.0.0.1:$port_b" --run "$name" \
        --concurrency "$CONNS" "$@" >"$work/replay-$name.out" 2>"$work/replay-$name.err"; then
        echo "shadowdiff replay failed:" >&2; cat "$work/replay-$name.out" "$work/replay-$name.err" >&2; exit 1
    fi
    local wall rss rows
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.03"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$work/time-$name")
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-$name")
    rows=$(count_rows "$work/big.db" "$name")
    local both
    both=$(sqlite3 "$work/big.db" "SELECT count(*) FROM (SELECT exchange_id FROM results
        WHERE $(answered "$work/big.db" "$name") GROUP BY exchange_id HAVING count(*) = 2)")
    echo "$wall $rss $both $rows"
}
replay small --limit "$SMALL" >"$work/small"
read -r small_s small_kb small_ex small_rows <"$work/small"
replay all >"$work/all"
read -r all_s all_kb all_ex all_rows <"$work/all"

echo
echo "Command: \`bash bench/replay-memory.sh $N\` — database of $(thousands "$N") exchanges ($db_mb MB, made in $(printf %.0f "$make_s") s"
echo "by bench/lib/make-replay-db.sh), each replayed once to two nginx (one worker each), peak RSS from GNU time -v."
echo
echo "| replay | exchanges answered (both sides) | wall s | exchanges/s | req/s (both sides) | peak RSS |"
echo "|---|---|---|---|---|---|"
for which in small all; do
    if [ $which = small ]; then label="--limit $SMALL"; s=$small_s; kb=$small_kb; ex=$small_ex; rows=$small_rows
    else label="all $(thousands "$N")"; s=$all_s; kb=$all_kb; ex=$all_ex; rows=$all_rows; fi
    printf "| %s | %s | %.1f | %s | %s | %.0f MB |\n" "$label" "$(thousands "$ex")" "$s" \
        "$(thousands "$(echo "$ex / $s" | bc -l)")" "$(thousands "$(echo "$rows / $s" | bc -l)")" "$(echo "$kb / 1024" | bc -l)"
done
echo
verdict=met; [ "$all_kb" -le $((150 * 1024)) ] || verdict="NOT met"
printf -- "- goal peak RSS <= 150 MB for %s exchanges: **%s** (%.0f MB; %+.0f MB over the %s-exchange run)\n" \
    "$(thousands "$N")" "$verdict" "$(echo "$all_kb / 1024" | bc -l)" "$(echo "($all_kb - $small_kb) / 1024" | bc -l)" "$(thousands "$SMALL")"
[ "$all_ex" -eq "$N" ] || echo "- **only $all_ex of $N exchanges were answered on both sides**"
echo "- replay errors: --limit run: $(count_errors "$work/big.db" small); full run: $(count_errors "$work/big.db" all)"
echo "- replay: \`/usr/bin/time -v shadowdiff replay --db DB --baseline http://127.0.0.1:$port_a --candidate http://127.0.0.1:$port_b --run all --concurrency $CONNS\`"
echo "- database: \`bash bench/lib/make-replay-db.sh DB $N\`"
