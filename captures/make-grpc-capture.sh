#!/usr/bin/env bash
# Regenerates captures/grpc-bidder.pcap: real gRPC over h2c between fixtures/grpc_client.py
# (Python grpcio) and the baseline fixture-grpc-bidder on loopback, recorded by tcpdump. See
# captures/README.md.
#
# The calls, in this order on one HTTP/2 connection: every fixtures/requests/*.json in sorted order
# as a unary Bid, then fixtures/grpc-bidder/requests/no-imp.json and no-id.json as unary Bids
# (both INVALID_ARGUMENT from the baseline), then three BidStream calls: 01-13, 14-26, and
# 01 + no-imp + 02 (the baseline answers 01, then ends the call with INVALID_ARGUMENT).
# SCRATCH=.build-NAME builds in that scratch path instead of .build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/fixture-lib.sh

out=captures/grpc-bidder.pcap
work=$(mktemp -d)
pids=()
trap cleanup_fixtures EXIT

command -v tcpdump >/dev/null || { echo "make-grpc-capture: tcpdump is required (make deps)" >&2; exit 2; }
python3 -c 'import grpc, google.protobuf' 2>/dev/null \
    || { echo "make-grpc-capture: Python grpcio and protobuf are required (make python-deps)" >&2; exit 2; }

build_product fixture-grpc-bidder

"$bin/fixture-grpc-bidder" --build baseline --port 0 >"$work/bidder.log" 2>&1 &
bidder=$!
pids+=("$bidder")
port=$(wait_for_port "$work/bidder.log") \
    || { echo "make-grpc-capture: the bidder did not start:" >&2; cat "$work/bidder.log" >&2; exit 2; }
echo "== baseline gRPC bidder on 127.0.0.1:$port"

start_tcpdump "$out" "$port" "$work/tcpdump.log" \
    || { echo "make-grpc-capture: tcpdump did not start:" >&2; cat "$work/tcpdump.log" >&2; exit 2; }
pids+=("$TCPDUMP_PID")

mapfile -t files < <(LC_ALL=C ls fixtures/requests/*.json | LC_ALL=C sort)
extra=(fixtures/grpc-bidder/requests/no-imp.json fixtures/grpc-bidder/requests/no-id.json)
join() { local IFS=,; echo "$*"; }
streams=(
    --stream "$(join "${files[@]:0:13}")"
    --stream "$(join "${files[@]:13}")"
    --stream "$(join "${files[0]}" "${extra[0]}" "${files[1]}")"
)
python3 fixtures/grpc_client.py --target "127.0.0.1:$port" "${files[@]}" "${extra[@]}" "${streams[@]}" >"$work/calls"
sleep 0.5

dropped=0
stop_tcpdump "$work/tcpdump.log" || dropped=1
kill -TERM "$bidder"
wait "$bidder" || true
pids=()
[ "$dropped" -eq 0 ] || { echo "make-grpc-capture: the kernel dropped packets; run it again" >&2; exit 1; }

sent=$(( ${#files[@]} + ${#extra[@]} + 3 ))
calls=$(wc -l <"$work/calls")
ok=$(grep -c ' OK' "$work/calls" || true)
invalid=$(grep -c ' INVALID_ARGUMENT' "$work/calls" || true)
packets=$(tcpdump -r "$out" 2>/dev/null | wc -l)
connections=$(tcpdump -r "$out" 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' 2>/dev/null | wc -l)
echo "== $out: $(stat -c %s "$out") bytes, $packets packets, $connections connection(s), $calls calls ($ok OK, $invalid INVALID_ARGUMENT)"
[ "$calls" -eq "$sent" ] && [ "$ok" -eq $(( sent - 3 )) ] && [ "$invalid" -eq 3 ] \
    || { echo "make-grpc-capture: expected $sent calls, $(( sent - 3 )) OK and 3 INVALID_ARGUMENT:" >&2; cat "$work/calls" >&2; exit 1; }
