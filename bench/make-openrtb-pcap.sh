#!/usr/bin/env bash
# Makes a real capture of keep-alive OpenRTB POSTs for the import benchmark: wrk posts the committed
# bid request fixture to nginx on 127.0.0.1 while tcpdump records lo. Stops once wrk has run
# $SECONDS_OF_TRAFFIC seconds (default 20; about 30K req/s here gives 500K+ exchanges).
#
# Usage: bash bench/make-openrtb-pcap.sh OUT.pcap [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: make-openrtb-pcap.sh OUT.pcap [seconds] [connections]}
seconds=${2:-20}
conns=${3:-16}
. bench/lib/setup.sh
require tcpdump=tcpdump wrk=wrk nginx=nginx-light curl=curl
. bench/lib/nginx.sh
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
trap 'stop_nginx; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
start_nginx "$work" "$port" 1
tcpdump -i lo -U -n -s 0 -B 262144 -w "$out" "tcp port $port" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q listening "$work/tcpdump.log" && break; sleep 0.1; done
wrk -t2 -c"$conns" -d"${seconds}s" -s bench/lib/openrtb-post.lua "http://127.0.0.1:$port/openrtb2/auction" | tee "$work/wrk.txt" | grep -E "requests in|Requests/sec"
sleep 0.5
kill -INT $tcpdump_pid; wait $tcpdump_pid 2>/dev/null || true
grep -E "captured|dropped" "$work/tcpdump.log" || true
ls -l "$out" | awk '{print "pcap bytes:", $5}'
