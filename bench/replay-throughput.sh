#!/usr/bin/env bash
# Replay throughput: how many requests per second `shadowdiff replay` drives, against what wrk
# drives on the same machine. Two throwaway nginx (one worker each, bench/lib/nginx.sh) play the
# baseline and the candidate; they answer at once, so the load generator is the bottleneck.
#   (a) two wrk at once, one per nginx, each `-t1 -cCONNS -dSECONDS` posting the OpenRTB fixture:
#       requests/s summed over both;
#   (b) `shadowdiff replay --concurrency CONNS --loop --duration SECONDS` to both nginx of 104
#       requests wrk itself sent (recorded through `shadowdiff capture proxy` before the rounds, so
#       both tools send the same bytes), replayed over and over: every request goes to both sides,
#       CONNS keep-alive connections each, and each side's answer is stored in SQLite. Requests/s
#       counts both sides: answered `results` rows (warm-up rows left out) / SECONDS.
#       REQUESTS=sample replays the committed capture captures/sample.pcap instead (104 exchanges,
#       bodies of 1,170 bytes on average against wrk's 761), as the figures before 2026-11-24 did.
#   (c), (d) the floor of any lockstep replay here: bench/probes/lockstep-floor.c (C, epoll, two
#       threads, CONNS lanes each holding one connection per nginx, the next request sent when both
#       sides answered, responses framed by Content-Length and nothing else) posting the same body;
#       (c) stores nothing, (d) stores every answer the replayer's way (a `results` and a
#       `result_bodies` row per side, prepared statements, 128 rows per transaction on a store
#       thread) in a fresh copy of the same database. They separate what the goal's conditions
#       cost on this machine (lockstep, storing every answer in SQLite) from what shadowdiff adds.
# Elapsed time is the configured SECONDS for both (wrk reports over its -d; the replay's start-up
# before its first request and its shutdown are left out the same way); the replay's wall time is
# shown beside it. CPU is the load generator's user+sys (GNU time) per 1,000 requests, its whole
# run included. Beside it, over the same span: the two nginx workers' CPU per request (what serving
# one request costs under that load generator) and the share of the machine's CPU time left idle.
# Rounds alternate a/b so machine noise hits both alike; the table shows medians.
# Goal: (b)/(a) >= 0.8.
#
# Usage: bash bench/replay-throughput.sh [seconds per run, default 10] [rounds, default 3] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${2:-3}
CONNS=${3:-32}
. bench/lib/setup.sh
require wrk=wrk nginx=nginx-light sqlite3=sqlite3 /usr/bin/time=time bc=bc pgrep=procps curl=curl cc=gcc
build_shadowdiff
. bench/lib/nginx.sh
. bench/lib/replay.sh
work=$(mktemp -d /tmp/shadowdiff-replay-tp.XXXXXX)
trap stop_all EXIT
cc -O2 -pthread -o "$work/lockstep-floor" bench/probes/lockstep-floor.c -lsqlite3
start_target_nginx "$work"
if [ "${REQUESTS:-wrk}" = sample ]; then
    sample_db "$work/requests.db"
    requests_are="captured exchanges (captures/sample.pcap)"
else
    wrk_db "$work/requests.db" "$port_a"
    requests_are="requests wrk sent (recorded through \`shadowdiff capture proxy\`)"
fi
exchanges=$(sqlite3 "$work/requests.db" "SELECT count(*) FROM exchanges")

wrk_cmd="wrk -t1 -c$CONNS -d${SECS}s -s bench/lib/openrtb-post.lua http://127.0.0.1:PORT/openrtb2/auction"
replay_cmd="shadowdiff replay --db DB --baseline http://127.0.0.1:$port_a --candidate http://127.0.0.1:$port_b --run NAME --concurrency $CONNS --loop --duration $SECS"

run_wrk() {  # -> "req/s cpu_s_per_1000 wall_s nginx_us_per_req idle_percent"
    local side port pids=() before
    before=$(cpu_snapshot)
    for side in a b; do
        [ $side = a ] && port=$port_a || port=$port_b
        /usr/bin/time -f "%e %U %S" -o "$work/time-wrk-$side" \
            wrk -t1 -c"$CONNS" -d"${SECS}s" -s bench/lib/openrtb-post.lua "http://127.0.0.1:$port/openrtb2/auction" \
            >"$work/wrk-$side.txt" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
    local after requests=0 rate=0 cpu=0 wall=0 r
    after=$(cpu_snapshot)
    for side in a b; do
        r=$(awk '/requests in/ {print $1}' "$work/wrk-$side.txt")
        [ -n "$r" ] || { echo "wrk failed:" >&2; cat "$work/wrk-$side.txt" >&2; exit 1; }
        requests=$((requests + r))
        rate=$(echo "$rate + $(awk '/Requests\/sec/ {print $2}' "$work/wrk-$side.txt")" | bc -l)
        read -r w u s <"$work/time-wrk-$side"
        cpu=$(echo "$cpu + $u + $s" | bc -l)
        wall=$(echo "if ($w > $wall) $w else $wall" | bc -l)
        if grep -q "Non-2xx\|Socket errors" "$work/wrk-$side.txt"; then
            echo "note: wrk ($side): $(grep "Non-2xx\|Socket errors" "$work/wrk-$side.txt" | tr -s ' ')" >&2
        fi
    done
    echo "$rate $(echo "$cpu * 1000 / $requests" | bc -l) $wall $(cpu_between "$before" "$after" "$requests")"
}

run_replay() {  # run_replay ROUND -> "req/s cpu_s_per_1000 wall_s nginx_us_per_req idle_percent"
    local name=throughput-$1 db=$work/replay.db before
    copy_db "$work/requests.db" "$db"
    before=$(cpu_snapshot)
    if ! /usr/bin/time -f "%e %U %S" -o "$work/time-replay" "$bin/shadowdiff" replay --db "$db" \
        --baseline "http://127.0.0.1:$port_a" --candidate "http://127.0.0.1:$port_b" --run "$name" \
        --concurrency "$CONNS" --loop --duration "$SECS" >"$work/replay.out" 2>"$work/replay.err"; then
        echo "shadowdiff replay failed:" >&2; cat "$work/replay.out" "$work/replay.err" >&2; exit 1
    fi
    local after rows all errors w u s
    after=$(cpu_snapshot)
    rows=$(count_rows "$db" "$name")
    all=$(sqlite3 "$db" "SELECT count(*) FROM results WHERE run_id = (SELECT id FROM runs WHERE name = '$name')")
    errors=$(count_errors "$db" "$name")
    [ "$errors" = none ] || echo "note: replay round $1 errors: $errors" >&2
    [ "$all" -gt 0 ] || { echo "shadowdiff replay stored no result" >&2; exit 1; }
    read -r w u s <"$work/time-replay"
    if [ "$(echo "$w < $SECS * 0.9" | bc -l)" = 1 ]; then
        echo "note: replay round $1 ran $w s of the $SECS s asked for" >&2
    fi
    echo "$(echo "$rows / $SECS" | bc -l) $(echo "($u + $s) * 1000 / $all" | bc -l) $w $(cpu_between "$before" "$after" "$all")"
}

probe_cmd="lockstep-floor -t 2 -c $CONNS -d $SECS -a PORT_A -b PORT_B -f fixtures/requests/01-banner-300x250-site.json"
run_probe() {  # run_probe [-s] -> "req/s cpu_s_per_1000 wall_s nginx_us_per_req idle_percent"
    local db=() before after r
    if [ "${1:-}" = -s ]; then copy_db "$work/requests.db" "$work/probe.db"; db=(-s "$work/probe.db"); fi
    before=$(cpu_snapshot)
    r=$("$work/lockstep-floor" -t 2 -c "$CONNS" -d "$SECS" -a "$port_a" -b "$port_b" \
        -f fixtures/requests/01-banner-300x250-site.json "${db[@]}")
    after=$(cpu_snapshot)
    read -r answered elapsed user sys all <<<"$r"
    echo "$(echo "$answered / $elapsed" | bc -l) $(echo "($user + $sys) * 1000 / $all" | bc -l) $elapsed $(cpu_between "$before" "$after" "$all")"
}

declare -A rate cpu wall server idle
for round in $(seq "$ROUNDS"); do
    for gen in a c d b; do
        case $gen in
            a) run_wrk ;;  # not in a subshell: its jobs stay the script's, and its exit ends the script
            b) run_replay "$round" ;;
            c) run_probe ;;
            d) run_probe -s ;;
        esac >"$work/round"
        read -r r c w n i <"$work/round"
        rate[$gen]+="$r "; cpu[$gen]+="$c "; wall[$gen]+="$w "; server[$gen]+="$n "; idle[$gen]+="$i "
    done
    printf "round %s:" "$round" >&2
    for gen in a b c d; do
        printf " (%s) %.0f req/s, %.4f CPU s/1,000 " "$gen" "$(echo "${rate[$gen]}" | awk '{print $NF}')" \
            "$(echo "${cpu[$gen]}" | awk '{print $NF}')" >&2
    done
    echo >&2
done

ra=$(median "${rate[a]}"); rb=$(median "${rate[b]}")
echo
echo "Command: \`bash bench/replay-throughput.sh $SECS $ROUNDS $CONNS\` — ${SECS} s per run, $ROUNDS rounds alternating a/b, medians;"
echo "two nginx (one worker each) on 127.0.0.1:$port_a (baseline) and :$port_b (candidate); $exchanges $requests_are replayed in a loop."
echo
echo "| load generator | connections | req/s (both sides) | CPU s per 1,000 req | wall s | nginx CPU µs per req | machine idle |"
echo "|---|---|---|---|---|---|---|"
printf "| (a) 2 × wrk -t1, one per nginx | 2 × %s | %s | %.4f | %.1f | %.1f | %.0f%% |\n" "$CONNS" "$(thousands "$ra")" \
    "$(median "${cpu[a]}")" "$(median "${wall[a]}")" "$(median "${server[a]}")" "$(median "${idle[a]}")"
printf "| (b) shadowdiff replay --concurrency %s --loop | 2 × %s | %s | %.4f | %.1f | %.1f | %.0f%% |\n" "$CONNS" "$CONNS" \
    "$(thousands "$rb")" "$(median "${cpu[b]}")" "$(median "${wall[b]}")" "$(median "${server[b]}")" "$(median "${idle[b]}")"
for gen in c d; do
    [ $gen = c ] && label="(c) lockstep floor, nothing stored" || label="(d) lockstep floor, every answer stored"
    printf "| %s | 2 × %s | %s | %.4f | %.1f | %.1f | %.0f%% |\n" "$label" "$CONNS" "$(thousands "$(median "${rate[$gen]}")")" \
        "$(median "${cpu[$gen]}")" "$(median "${wall[$gen]}")" "$(median "${server[$gen]}")" "$(median "${idle[$gen]}")"
done
echo
printf "**(b)/(a) throughput: %.2fx** (goal >= 0.8x); the floors: (c)/(a) %.2fx, (d)/(a) %.2fx; (b)/(d) %.2fx\n" \
    "$(echo "$rb / $ra" | bc -l)" "$(echo "$(median "${rate[c]}") / $ra" | bc -l)" \
    "$(echo "$(median "${rate[d]}") / $ra" | bc -l)" "$(echo "$rb / $(median "${rate[d]}")" | bc -l)"
echo
echo "- (a): \`$wrk_cmd\` (PORT $port_a and $port_b, at once)"
echo "- (b): \`$replay_cmd\` (DB: a fresh copy of the $exchanges $requests_are per round)"
echo "- (c), (d): \`$probe_cmd\` (bench/probes/lockstep-floor.c), (d) with \`-s DB\` (a fresh copy as for (b))"
