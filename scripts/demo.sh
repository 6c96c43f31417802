#!/usr/bin/env bash
# The whole loop on the committed capture: start both fixture bidders, import captures/sample.pcap,
# replay it to baseline and candidate, print the diff and write the HTML review report. Exits 0 when
# the diff finds the candidate's documented differences (the diff itself exits 1: they cross the gates).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/fixture-lib.sh
bin=$(swift build --show-bin-path)
out=out
mkdir -p "$out"
db="$out/demo.db"
rm -f "$db" "$db-wal" "$db-shm"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Starts a fixture bidder on a free loopback port and sets $port to it. Runs in this shell (not in
# a command substitution) so that its pid reaches the cleanup trap.
start_bidder() {
    local build=$1 log="$out/bidder-$1.log"
    "$bin/fixture-bidder" --build "$build" --port 0 >"$log" 2>&1 &
    pids+=($!)
    port=$(wait_for_port "$log") && return
    echo "demo: the $build bidder did not start; see $log" >&2
    exit 2
}
start_bidder baseline; baseline_port=$port
start_bidder candidate; candidate_port=$port
echo "== fixture bidders: baseline on 127.0.0.1:$baseline_port, candidate on 127.0.0.1:$candidate_port"

echo "== shadowdiff capture --pcap captures/sample.pcap --db $db"
"$bin/shadowdiff" capture --pcap captures/sample.pcap --db "$db"

echo "== shadowdiff replay --db $db --baseline http://127.0.0.1:$baseline_port --candidate http://127.0.0.1:$candidate_port --run demo --concurrency 4 --loop --limit 1040"
"$bin/shadowdiff" replay --db "$db" --baseline "http://127.0.0.1:$baseline_port" \
    --candidate "http://127.0.0.1:$candidate_port" --run demo --concurrency 4 --loop --limit 1040

echo "== shadowdiff diff --db $db --run demo --json $out/demo-report.json"
set +e
"$bin/shadowdiff" diff --db "$db" --run demo --json "$out/demo-report.json"
rc=$?
set -e
case $rc in
    1) ;;
    0) echo "demo: the diff found no difference, but the candidate has documented ones" >&2; exit 1 ;;
    *) echo "demo: shadowdiff diff failed with exit $rc" >&2; exit "$rc" ;;
esac

echo "== shadowdiff report --db $db --run demo --html $out/demo-report.html --markdown $out/demo-summary.md --junit $out/demo-junit.xml"
set +e
"$bin/shadowdiff" report --db "$db" --run demo --html "$out/demo-report.html" --markdown "$out/demo-summary.md" \
    --junit "$out/demo-junit.xml"
rc=$?
set -e
if [ "$rc" != 1 ]; then echo "demo: shadowdiff report exited $rc, expected 1 (gates crossed)" >&2; exit 2; fi
echo "== demo done: the candidate's documented differences cross the gates (diff and report exit 1, as expected)."
echo "== review it: $(cd "$out" && pwd)/demo-report.html"
