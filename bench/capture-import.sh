#!/usr/bin/env bash
# Capture import: shadowdiff against tshark and tcpflow on the same pcap, same machine, same run.
#
# Makes a real capture of >= $MIN_EXCHANGES keep-alive OpenRTB POSTs (wrk -> nginx on lo, tcpdump;
# bench/make-openrtb-pcap.sh), then measures wall time and peak RSS (GNU time) of:
#   shadowdiff capture --pcap F --db x.db   decode, reassemble, parse, pair, store every exchange in SQLite
#   tshark -r F -Y http.request -T fields -e frame.number   dissect HTTP, print one line per request
#   tcpflow -r F -o DIR                     reassemble TCP, write each flow to a file (no HTTP parsing)
# shadowdiff and tcpflow: best of $RUNS; tshark: one run (it takes minutes). Prints exchanges/s,
# packets/s, peak RSS and the ratios. shadowdiff is also run on a 100K-packet prefix to show that
# its peak RSS does not grow with the file.
#
# Usage: bash bench/capture-import.sh [existing.pcap]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
MIN_EXCHANGES=${MIN_EXCHANGES:-500000}
. bench/lib/setup.sh
require tcpdump=tcpdump tshark=tshark tcpflow=tcpflow wrk=wrk nginx=nginx-light
build_shadowdiff
work=$(mktemp -d /tmp/shadowdiff-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

pcap=${1:-}
if [ -z "$pcap" ]; then
    pcap=$work/openrtb.pcap
    seconds=10
    bash bench/make-openrtb-pcap.sh "$pcap" "$seconds" 16
fi
packets=$(tcpdump -r "$pcap" -n 2>/dev/null | wc -l)
echo "capture: $pcap, $(stat -c %s "$pcap") bytes, $packets packets"

# measure LABEL CMD...: appends "seconds rss_kb" of the best run to $work/LABEL
measure() {
    local label=$1 runs=$2; shift 2
    for _ in $(seq "$runs"); do
        rm -rf "$work/db.db"* "$work/flows"; mkdir -p "$work/flows"
        /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>"$work/err.txt" || { cat "$work/err.txt"; exit 1; }
        cat "$work/time.txt"
    done | sort -n | head -1 >"$work/$label"
}
measure shadowdiff "$RUNS" "$bin/shadowdiff" capture --pcap "$pcap" --db "$work/db.db"
rm -f "$work/db.db"*
"$bin/shadowdiff" capture --pcap "$pcap" --db "$work/db.db" >"$work/sd.txt"
sd_req=$(sqlite3 "$work/db.db" "SELECT count(*) FROM exchanges")
sd_resp=$(sqlite3 "$work/db.db" "SELECT count(prod_status) FROM exchanges")
measure tcpflow "$RUNS" tcpflow -r "$pcap" -o "$work/flows"
measure tshark 1 tshark -r "$pcap" -Y http.request -T fields -e frame.number
ts_req=$(tshark -r "$pcap" -Y http.request -T fields -e frame.number | wc -l)
tcpdump -r "$pcap" -c 100000 -w "$work/prefix.pcap" 2>/dev/null
measure shadowdiff-prefix "$RUNS" "$bin/shadowdiff" capture --pcap "$work/prefix.pcap" --db "$work/db.db"

read -r sd_s sd_kb <"$work/shadowdiff"
read -r tf_s tf_kb <"$work/tcpflow"
read -r ts_s ts_kb <"$work/tshark"
read -r sp_s sp_kb <"$work/shadowdiff-prefix"
echo
printf "%-58s %9s %12s %12s %11s %9s\n" tool seconds requests exchanges/s packets/s "peak RSS"
row() { printf "%-58s %9.2f %12s %12.0f %11.0f %6.0f MB\n" "$1" "$2" "$3" "$(echo "$3 / $2" | bc -l)" "$(echo "$packets / $2" | bc -l)" "$(echo "$4 / 1024" | bc -l)"; }
row "shadowdiff capture --pcap (parse, pair, store in SQLite)" "$sd_s" "$sd_req" "$sd_kb"
row "tcpflow -r (reassemble, write flows; no HTTP)" "$tf_s" "$ts_req" "$tf_kb"
row "tshark -Y http.request (dissect; stores nothing)" "$ts_s" "$ts_req" "$ts_kb"
printf "shadowdiff on a 100,000-packet prefix: %.2f s, peak RSS %.0f MB\n" "$sp_s" "$(echo "$sp_kb / 1024" | bc -l)"
printf "shadowdiff stored %s requests, %s with their response; tshark found %s requests\n" "$sd_req" "$sd_resp" "$ts_req"
printf "ratio tshark/shadowdiff time: %.1fx   ratio tcpflow/shadowdiff packet rate: %.2fx\n" \
    "$(echo "$ts_s / $sd_s" | bc -l)" "$(echo "$tf_s / $sd_s" | bc -l)"
