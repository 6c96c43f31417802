#!/usr/bin/env bash
# Capture import throughput: shadowdiff against tshark on the same pcap, same machine, same run.
#
# Makes a real capture: wrk posts an OpenRTB bid request to the baseline fixture bidder over
# keep-alive connections while tcpdump records lo. Then times, best of $RUNS:
#   shadowdiff capture --pcap big.pcap --db x.db   (decode, reassemble, parse, pair, store in SQLite)
#   tshark -r big.pcap -Y http.request -T fields -e frame.number   (decode and dissect HTTP, no storing)
# and prints both times, the ratio and the exchange counts each found.
#
# Usage: bash bench/capture-import.sh [seconds of wrk traffic, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${RUNS:-3}
for p in tcpdump tshark wrk; do
    command -v $p >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump tshark wrk >/dev/null; break; }
done
swift build -c release --product shadowdiff >/dev/null
swift build -c release --product fixture-bidder >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin/fixture-bidder" --build baseline --port 0 >"$work/bidder.log" &
for _ in $(seq 50); do grep -q listening "$work/bidder.log" && break; sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/bidder.log")
body=$(python3 -c 'import json,sys; print(json.dumps(json.load(open("fixtures/requests/01-banner-300x250-site.json"))))' 2>/dev/null \
    || cat "$(ls fixtures/requests/*.json | head -1)")
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$body]]
LUA
tcpdump -i lo -U -n -B 65536 -w "$work/big.pcap" "tcp port $port" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q listening "$work/tcpdump.log" && break; sleep 0.1; done
wrk -t2 -c16 -d"${DURATION}s" -s "$work/post.lua" "http://127.0.0.1:$port/openrtb2/auction" | tee "$work/wrk.txt" | grep -E "requests in|Requests/sec"
sleep 0.5
kill -INT $tcpdump_pid; wait $tcpdump_pid 2>/dev/null || true
grep -E "captured|dropped" "$work/tcpdump.log" || true
ls -l "$work/big.pcap" | awk '{print "pcap bytes:", $5}'

best() { sort -n | head -1; }
time_runs() {
    for _ in $(seq "$RUNS"); do
        local start end
        start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N)
        echo "$end - $start" | bc -l
    done | best
}
sd=$(time_runs bash -c "rm -f '$work/x.db'*; '$bin/shadowdiff' capture --pcap '$work/big.pcap' --db '$work/x.db'")
ts=$(time_runs tshark -r "$work/big.pcap" -Y http.request -T fields -e frame.number)
rm -f "$work/x.db"*
"$bin/shadowdiff" capture --pcap "$work/big.pcap" --db "$work/x.db" | tee "$work/sd.txt"
sd_n=$(sqlite3 "$work/x.db" "SELECT count(*) FROM exchanges")
sd_resp=$(sqlite3 "$work/x.db" "SELECT count(prod_status) FROM exchanges")
ts_req=$(tshark -r "$work/big.pcap" -Y http.request -T fields -e frame.number | wc -l)
ts_resp=$(tshark -r "$work/big.pcap" -Y http.response -T fields -e frame.number | wc -l)
echo
printf "%-44s %10s %12s %12s\n" "tool" "seconds" "requests" "responses"
printf "%-44s %10.3f %12s %12s\n" "shadowdiff capture (into SQLite)" "$sd" "$sd_n" "$sd_resp"
printf "%-44s %10.3f %12s %12s\n" "tshark -Y http.request (dissect only)" "$ts" "$ts_req" "$ts_resp"
printf "ratio tshark/shadowdiff: %.2fx (higher is better for shadowdiff)\n" "$(echo "$ts / $sd" | bc -l)"
printf "shadowdiff exchanges/s: %.0f\n" "$(echo "$sd_n / $sd" | bc -l)"
