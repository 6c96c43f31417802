#!/usr/bin/env bash
# Verdict honesty at scale: the larger version of Tests/EndToEndTests/VerdictHonestyTests.swift,
# with release builds. REQUESTS distinct bid requests (fixtures/make_bid_requests.py REQUESTS
# SEED) are recorded through `shadowdiff capture mirror`; then, against fixture-bidder builds whose
# behaviour is known (fixtures/README.md, "Injected faults"):
#   A/A       RUNS seeded runs, candidate = a second `--build baseline` instance, a third as
#             --secondary; each diffed with the default gates (counts runs that exit 0: goal all),
#             and with --rules openrtb and --rules json. Counts runs whose
#             latency verdict says regressed (overall or for an endpoint: the false-positive rate,
#             goal <= 5%) and runs with a candidate difference after noise rules (goal 0).
#   latency   RUNS seeded runs, candidate = `--build baseline --inject-delay-us 1000
#             --inject-percent 10`, same baseline and secondary: runs whose overall latency
#             verdict says regressed (the detection rate, goal >= 95%), and which gates did.
#   nginx A/A RUNS seeded runs against two nginx answering alike (no secondary), default gates:
#             runs whose diff exits 0 (goal all).
#   flips     one run, candidate = `--build baseline --flip-percent 0.1`: the exchanges where the
#             baseline bid and "<request id>#flip" is chosen, computed here from the database,
#             against the decision mismatches the diff lists (--examples large enough for all).
# Every replay: shadowdiff replay --concurrency $CONCURRENCY --seed S (one --run per seed); every
# diff: --seed S, and in the A/A and latency runs the latency gates VerdictHonestyTests judges
# (--rules-file with p50 at max(5%, 0.5 ms), p95 at max(5%, 0.15 ms) and p99 at max(5%, 0.25 ms):
# thresholds below the injected effect). Reads the JSON report's diff.latency.overall.regressed,
# diff.latency.endpoints[].regressed, diff.groups[] and diff.noisyGroups[] (kind, field, count,
# exchanges, examples[].exchange).
#
# Usage: bash bench/diff-honesty.sh [RUNS, default 100] [REQUESTS, default 3000]
# Environment: CONCURRENCY (default 1, as in the tests), SEED (the generator's, default 20250).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-100}
REQUESTS=${2:-3000}
CONCURRENCY=${CONCURRENCY:-1}
SEED=${SEED:-20250}
P99_MS=0.25
P95_MS=0.15
. bench/lib/setup.sh
require sqlite3=sqlite3 python3=python3
build_shadowdiff
swift build -c release --product fixture-bidder >/dev/null
. bench/lib/replay.sh
work=$(mktemp -d /tmp/shadowdiff-honesty.XXXXXX)
trap stop_all EXIT
started=$(date +%s)

# The workload: REQUESTS distinct bid requests recorded by the mirror sink.
db=$work/honesty.db
gates=$work/latency-gates.yaml
cat >"$gates" <<GATES
gates:
  latency:
    - {percentile: 50, relative: 0.05, absolute_ms: 0.5}
    - {percentile: 95, relative: 0.05, absolute_ms: $P95_MS}
    - {percentile: 99, relative: 0.05, absolute_ms: $P99_MS}
GATES
"$bin/shadowdiff" capture mirror --listen 127.0.0.1:0 --db "$db" >"$work/mirror.out" 2>"$work/mirror.err" &
mirror_pid=$!
for _ in $(seq 100); do grep -qs 'listening on' "$work/mirror.err" && break; sleep 0.05; done
mirror_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/mirror.err" | head -1)
[ -n "$mirror_port" ] || { echo "capture mirror did not start: $(cat "$work/mirror.err")" >&2; exit 1; }
python3 fixtures/make_bid_requests.py "$REQUESTS" "$SEED" --post "http://127.0.0.1:$mirror_port/openrtb2/auction"
kill -TERM "$mirror_pid"; wait "$mirror_pid"
grep -q "exchanges stored $REQUESTS " "$work/mirror.out" || { echo "capture mirror did not store $REQUESTS:" >&2; cat "$work/mirror.out" >&2; exit 1; }

start_fixture "$work/baseline" --build baseline; base_port=$FIXTURE_PORT
start_fixture "$work/secondary" --build baseline; sec_port=$FIXTURE_PORT
start_fixture "$work/aa" --build baseline; aa_port=$FIXTURE_PORT
start_fixture "$work/slow" --build baseline --inject-delay-us 1000 --inject-percent 10; slow_port=$FIXTURE_PORT
start_fixture "$work/flip" --build baseline --flip-percent 0.1; flip_port=$FIXTURE_PORT

# replay RUN SEED CANDIDATE_PORT
replay() {
    if ! "$bin/shadowdiff" replay --db "$db" --baseline "http://127.0.0.1:$base_port" \
        --candidate "http://127.0.0.1:$3" --secondary "http://127.0.0.1:$sec_port" \
        --run "$1" --concurrency "$CONCURRENCY" --seed "$2" >"$work/replay.out" 2>&1; then
        echo "replay $1 failed:" >&2; cat "$work/replay.out" >&2; exit 1
    fi
}

# diff RUN SEED FLAGS...: writes $work/RUN-<digest of the flags>.json; exit 0 or 1 (a gate crossed) are both fine.
diff_run() {
    local run=$1 seed=$2 json
    shift 2
    json="$work/$run-$(printf '%s' "$*" | md5sum | cut -c1-8).json"
    local rc=0
    "$bin/shadowdiff" diff --db "$db" --run "$run" --json "$json" --seed "$seed" "$@" >"$work/diff.out" 2>&1 || rc=$?
    [ "$rc" -le 1 ] || { echo "diff $run $* failed (exit $rc):" >&2; cat "$work/diff.out" >&2; exit 1; }
    echo "$json"
}

# verdict JSON: "regressed differences noisy" for a report (1/0, group counts).
verdict() {
    python3 - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))["diff"]
lat = d["latency"]
regressed = lat["overall"]["regressed"] or any(e["regressed"] for e in lat["endpoints"])
print(int(regressed), int(lat["overall"]["regressed"]), len(d["groups"]), len(d["noisyGroups"]))
EOF
}

# exit_of RUN SEED [FLAGS...]: the exit code of `shadowdiff diff` with the default gates (0: pass, 1: a gate crossed).
exit_of() {
    local run=$1 seed=$2 rc=0
    shift 2
    "$bin/shadowdiff" diff --db "$db" --run "$run" --seed "$seed" "$@" >"$work/diff.out" 2>&1 || rc=$?
    [ "$rc" -le 1 ] || { echo "diff $run failed (exit $rc):" >&2; cat "$work/diff.out" >&2; exit 1; }
    echo "$rc"
}

aa_regressed=0; aa_openrtb_diff=0; aa_json_diff=0; aa_json_no_noise=0; aa_exit0=0; aa_failed_gates=""
for seed in $(seq "$RUNS"); do
    replay "aa-$seed" "$seed" "$aa_port"
    if [ "$(exit_of "aa-$seed" "$seed")" = 0 ]; then aa_exit0=$((aa_exit0 + 1)); else aa_failed_gates+="$(grep -o 'FAIL  [a-z0-9 ]*' "$work/diff.out" | tr '\n' ';') "; fi
    json=$(diff_run "aa-$seed" "$seed" --rules openrtb --rules-file "$gates")
    v=$(verdict "$json"); read -r any _ groups _ <<<"$v"
    aa_regressed=$((aa_regressed + any)); [ "$groups" -eq 0 ] || aa_openrtb_diff=$((aa_openrtb_diff + 1))
    json=$(diff_run "aa-$seed" "$seed" --rules json --rules-file "$gates")
    v=$(verdict "$json"); read -r _ _ groups noisy <<<"$v"
    [ "$groups" -eq 0 ] || aa_json_diff=$((aa_json_diff + 1)); [ "$noisy" -gt 0 ] || aa_json_no_noise=$((aa_json_no_noise + 1))
done

detected=0; p95_detected=0; p99_detected=0
for seed in $(seq "$RUNS"); do
    replay "slow-$seed" "$seed" "$slow_port"
    json=$(diff_run "slow-$seed" "$seed" --rules-file "$gates")
    v=$(verdict "$json"); read -r _ overall _ _ <<<"$v"
    detected=$((detected + overall))
    read -r p95 p99 < <(python3 -c '
import json, sys
gates = json.load(open(sys.argv[1]))["diff"]["latency"]["overall"]["gates"]
hit = {g["gate"]["percentile"] for g in gates if g["regressed"]}
print(int("p95" in hit), int("p99" in hit))' "$json")
    p95_detected=$((p95_detected + p95)); p99_detected=$((p99_detected + p99))
done

# A/A against nginx: two nginx (one worker each) answering every request alike, default gates,
# the same replay settings (no secondary).
. bench/lib/nginx.sh
start_target_nginx "$work"
nginx_exit0=0
for seed in $(seq "$RUNS"); do
    if ! "$bin/shadowdiff" replay --db "$db" --baseline "http://127.0.0.1:$port_a" --candidate "http://127.0.0.1:$port_b" \
        --run "nginx-aa-$seed" --concurrency "$CONCURRENCY" --seed "$seed" >"$work/replay.out" 2>&1; then
        echo "replay nginx-aa-$seed failed:" >&2; cat "$work/replay.out" >&2; exit 1
    fi
    [ "$(exit_of "nginx-aa-$seed" "$seed")" = 0 ] && nginx_exit0=$((nginx_exit0 + 1))
done

replay flips 1 "$flip_port"
flip_json=$(diff_run flips 1 --rules openrtb --examples 10000)
flips=$(python3 - "$db" "$flip_json" <<'EOF'
import json, sqlite3, sys
def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h
db = sqlite3.connect(sys.argv[1])
expected = set()
for exchange, request_id, status, body in db.execute("""
        SELECT r.exchange_id, json_extract(CAST(e.request_body AS TEXT), '$.id'), r.status, CAST(rb.body AS TEXT)
        FROM results r JOIN runs ON runs.id = r.run_id JOIN exchange_bodies e ON e.exchange_id = r.exchange_id
        JOIN result_bodies rb USING (run_id, pass, exchange_id, side)
        WHERE runs.name = 'flips' AND r.side = 'baseline' AND r.warmup = 0"""):
    bids = sum(len(s.get("bid") or []) for s in json.loads(body).get("seatbid") or []) if status == 200 and body else 0
    if bids > 0 and fnv1a64(f"{request_id}#flip") % 100000 < 100:
        expected.add(exchange)
d = json.load(open(sys.argv[2]))["diff"]
decisions = [g for g in d["groups"] if g["kind"] == "decision"]
listed = {x["exchange"] for g in decisions for x in g["examples"]}
others = sum(g["count"] for g in d["groups"] if g["kind"] != "decision")
print(len(listed & expected), len(expected), len(listed - expected), others)
EOF
)
read -r found expected extra others <<<"$flips"

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }
echo
echo "verdict honesty: $RUNS runs per verdict, $(thousands "$REQUESTS") distinct requests per run, replay --concurrency $CONCURRENCY, diff gates p50 max(5%, 0.5 ms), p95 max(5%, $P95_MS ms), p99 max(5%, $P99_MS ms)"
echo "  A/A false latency-regression verdicts  $aa_regressed of $RUNS  ($(pct "$aa_regressed" "$RUNS"); goal <= 5%)"
echo "  A/A diff exit 0, default gates         fixture $aa_exit0 of $RUNS, nginx $nginx_exit0 of $RUNS  (goal: all)${aa_failed_gates:+; fixture gates failed: $aa_failed_gates}"
echo "  A/A runs with candidate differences    openrtb $aa_openrtb_diff, json $aa_json_diff  (goal 0); json runs without noise groups: $aa_json_no_noise"
echo "  +1 ms on 10% detected                  $detected of $RUNS  ($(pct "$detected" "$RUNS"); goal >= 95%)"
echo "    by the p95 gate: $p95_detected, by the p99 gate: $p99_detected"
echo "  0.1% flips found and listed            $found of $expected expected  (listed but not expected: $extra; other mismatches: $others)"
echo "  wall time                              $(( $(date +%s) - started )) s"
