# Helpers shared by the replay benchmarks (bench/replay-*.sh). Source it after setup.sh, from the
# repository root, with $bin set by build_shadowdiff and $work a scratch directory.

# sample_db DB: a new shadowdiff database holding the committed capture captures/sample.pcap
# (104 exchanges: the 26 fixtures/requests/*.json posted 4 times).
sample_db() {
    "$bin/shadowdiff" capture --pcap captures/sample.pcap --db "$1" >/dev/null
}

# wrk_db DB PORT [N, default 104]: a new shadowdiff database holding the first N requests that wrk
# (bench/lib/openrtb-post.lua, one connection, one second) sent through `shadowdiff capture proxy` to
# the server on 127.0.0.1:PORT. Replaying it sends byte for byte what wrk sends (the Host header
# aside, which the replay sets per target), so a comparison with wrk carries the same requests.
wrk_db() {
    local db=$1 upstream=$2 n=${3:-104} listen=$((40000 + RANDOM % 10000)) tee_pid
    "$bin/shadowdiff" capture proxy --listen "$listen" --upstream "http://127.0.0.1:$upstream" --db "$db" \
        >"$db.proxy.out" 2>"$db.proxy.err" &
    tee_pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$listen/" && break; sleep 0.05; done
    wrk -t1 -c1 -d1s -s bench/lib/openrtb-post.lua "http://127.0.0.1:$listen/openrtb2/auction" >"$db.wrk.txt"
    kill -INT "$tee_pid"
    wait "$tee_pid" || { echo "capture proxy failed: $(cat "$db.proxy.err")" >&2; return 1; }
    sqlite3 "$db" "PRAGMA foreign_keys = ON;
        DELETE FROM exchanges WHERE method <> 'POST' OR id NOT IN
            (SELECT id FROM exchanges WHERE method = 'POST' ORDER BY id LIMIT $n);
        VACUUM;"
    [ "$(sqlite3 "$db" "SELECT count(*) FROM exchanges")" = "$n" ] || { echo "wrk_db: fewer than $n requests recorded" >&2; return 1; }
}

# copy_db FROM TO: a consistent copy of a database (WAL included), so every round starts alike.
copy_db() {
    rm -f "$2" "$2-wal" "$2-shm"
    sqlite3 "$1" ".backup '$2'"
}

# answered DB RUN [SIDE]: where-clause of the run's answered requests, warm-up rows left out.
answered() {
    local where="run_id = (SELECT id FROM runs WHERE name = '$2') AND warmup = 0 AND error IS NULL"
    [ -n "${3:-}" ] && where+=" AND side = '$3'"
    echo "$where"
}

# count_rows DB RUN [SIDE]: answered requests of the run (both sides unless SIDE), warm-up left out.
count_rows() {
    sqlite3 "$1" "SELECT count(*) FROM results WHERE $(answered "$@")"
}

# count_errors DB RUN: "kind n, kind n" over every side, or "none".
count_errors() {
    local e
    e=$(sqlite3 "$1" "SELECT group_concat(side || ' ' || error || ' ' || n, ', ') FROM (SELECT side, error, count(*) AS n
        FROM results WHERE run_id = (SELECT id FROM runs WHERE name = '$2') AND warmup = 0 AND error IS NOT NULL
        GROUP BY side, error ORDER BY side, error)")
    echo "${e:-none}"
}

# percentile_ns DB RUN SIDE COLUMN P: the P quantile (0 <= P < 1) of COLUMN over the run's answered
# requests on SIDE, warm-up rows left out: ORDER BY COLUMN LIMIT 1 OFFSET floor(n * P). P=max: the largest.
percentile_ns() {
    local where
    where="$(answered "$1" "$2" "$3") AND $4 IS NOT NULL"
    if [ "$5" = max ]; then
        sqlite3 "$1" "SELECT max($4) FROM results WHERE $where"
    else
        sqlite3 "$1" "SELECT $4 FROM results WHERE $where ORDER BY $4 LIMIT 1
            OFFSET (SELECT CAST(count(*) * $5 AS INTEGER) FROM results WHERE $where)"
    fi
}

# start_fixture OUT ARGS...: starts fixture-bidder ARGS... on a free port, stdout to OUT and stderr
# to OUT.err; sets FIXTURE_PID and FIXTURE_PORT once it listens.
start_fixture() {
    local out=$1
    shift
    "$bin/fixture-bidder" --port 0 "$@" >"$out" 2>"$out.err" &
    FIXTURE_PID=$!
    for _ in $(seq 100); do
        grep -qs '^listening on ' "$out" && break
        sleep 0.05
    done
    FIXTURE_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
    [ -n "$FIXTURE_PORT" ] || { echo "fixture-bidder did not start: $(cat "$out.err")" >&2; return 1; }
}

# stop_all: the EXIT trap of every replay benchmark. Stops every background job of the script
# (nginx, fixture-bidder, wrk, GNU time and what it runs: time does not pass signals on), waits
# for them, and removes $work.
stop_all() {
    local p
    for p in $(jobs -p); do
        pkill -TERM -P "$p" 2>/dev/null || true
        kill -TERM "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}

# median "v1 v2 ...": the median (the lower one of an even count).
median() {
    tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# us NS: nanoseconds minus $OFFSET_NS (default 0) as whole microseconds with a sign, e.g. +57.
us() {
    [ -n "$1" ] || { echo "-"; return; }
    awk -v v="$1" -v o="${OFFSET_NS:-0}" 'BEGIN { printf "%+.0f", (v - o) / 1000 }'
}

# thousands N: N with thousands separators (integer part), e.g. 1,234,567.
thousands() {
    LC_ALL=C printf "%.0f" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'
}

# start_target_nginx WORK: two nginx (one worker each) on free-ish ports as baseline and candidate;
# sets port_a and port_b.
start_target_nginx() {
    local base=$((20000 + RANDOM % 10000))
    port_a=$base
    port_b=$((base + 1))
    start_nginx "$1/nginx-baseline" "$port_a" 1
    nginx_workers=$(pgrep -P "$NGINX_PID")
    start_nginx "$1/nginx-candidate" "$port_b" 1
    nginx_workers+=" $(pgrep -P "$NGINX_PID")"
}

# cpu_snapshot: "machine-idle-ticks machine-total-ticks nginx-worker-ticks" now (clock ticks of
# /proc/stat and of the workers start_target_nginx started). cpu_between BEFORE AFTER REQUESTS:
# "nginx CPU µs per request, machine idle %" between two snapshots.
cpu_snapshot() {
    local idle total nginx=0 p f u n s i io irq sirq st
    read -r _ u n s i io irq sirq st _ </proc/stat
    idle=$((i + io)); total=$((u + n + s + i + io + irq + sirq + st))
    for p in $nginx_workers; do
        read -r -a f <"/proc/$p/stat"
        nginx=$((nginx + f[13] + f[14]))
    done
    echo "$idle $total $nginx"
}
cpu_between() {
    local a b
    read -r -a a <<<"$1"
    read -r -a b <<<"$2"
    echo "$(echo "(${b[2]} - ${a[2]}) * 1000000 / $(getconf CLK_TCK) / $3" | bc -l) $(echo "100 * (${b[0]} - ${a[0]}) / (${b[1]} - ${a[1]})" | bc -l)"
}
