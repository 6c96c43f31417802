#!/usr/bin/env bash
# Regenerates captures/sample.pcap: real HTTP/1.1 keep-alive traffic between curl and the
# baseline fixture bidder on loopback, recorded by tcpdump. See captures/README.md.
#
# The request sequence is every fixtures/requests/*.json in sorted order, repeated ROUNDS times;
# each round is sent as CHUNKS curl invocations (one keep-alive connection each), one after the
# other, so the capture holds ROUNDS*CHUNKS connections and ROUNDS*files exchanges in that order.
# SCRATCH=.build-NAME builds in that scratch path instead of .build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/fixture-lib.sh

ROUNDS=${ROUNDS:-4}
CHUNKS=${CHUNKS:-2}
out=captures/sample.pcap
work=$(mktemp -d)
pids=()
trap cleanup_fixtures EXIT

if ! command -v tcpdump >/dev/null; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tcpdump >/dev/null
fi
command -v curl >/dev/null || { echo "make-sample: curl is required" >&2; exit 2; }

build_product fixture-bidder

"$bin/fixture-bidder" --build baseline --port 0 >"$work/bidder.log" 2>&1 &
bidder=$!
pids+=("$bidder")
port=$(wait_for_port "$work/bidder.log") \
    || { echo "make-sample: the bidder did not start:" >&2; cat "$work/bidder.log" >&2; exit 2; }
url="http://127.0.0.1:$port/openrtb2/auction"
echo "== baseline bidder on 127.0.0.1:$port"

start_tcpdump "$out" "$port" "$work/tcpdump.log" \
    || { echo "make-sample: tcpdump did not start:" >&2; cat "$work/tcpdump.log" >&2; exit 2; }
pids+=("$TCPDUMP_PID")

mapfile -t files < <(LC_ALL=C ls fixtures/requests/*.json | LC_ALL=C sort)
per_chunk=$(( (${#files[@]} + CHUNKS - 1) / CHUNKS ))
sent=0
: >"$work/statuses"
for round in $(seq 1 "$ROUNDS"); do
    for (( start = 0; start < ${#files[@]}; start += per_chunk )); do
        args=()
        for f in "${files[@]:start:per_chunk}"; do
            # `Expect:` off: curl would otherwise add `Expect: 100-continue` to bodies over 1 KiB.
            [ ${#args[@]} -gt 0 ] && args+=(--next)
            args+=(-s -o /dev/null -w '%{http_code}\n' --http1.1 -H 'Content-Type: application/json' -H 'Expect:'
                --data-binary "@$f" "$url")
            sent=$((sent + 1))
        done
        curl "${args[@]}" >>"$work/statuses"
    done
done
sleep 0.5

dropped=0
stop_tcpdump "$work/tcpdump.log" || dropped=1
kill -TERM "$bidder"
wait "$bidder" || true
pids=()
[ "$dropped" -eq 0 ] || { echo "make-sample: the kernel dropped packets; run it again" >&2; exit 1; }

bad=$(grep -cvE '^(200|204)$' "$work/statuses" || true)
answered=$(wc -l <"$work/statuses")
packets=$(tcpdump -r "$out" 2>/dev/null | wc -l)
connections=$(tcpdump -r "$out" 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' 2>/dev/null | wc -l)
echo "== $out: $(stat -c %s "$out") bytes, $packets packets, $connections connections, $sent requests sent ($ROUNDS rounds x ${#files[@]} files), $answered answered"
[ "$answered" -eq "$sent" ] && [ "$bad" -eq 0 ] || { echo "make-sample: $bad of $answered answers were not 200/204" >&2; exit 1; }

if command -v tshark >/dev/null; then
    requests=$(tshark -r "$out" -d "tcp.port==$port,http" -Y http.request 2>/dev/null | wc -l)
    responses=$(tshark -r "$out" -d "tcp.port==$port,http" -Y http.response 2>/dev/null | wc -l)
    echo "== tshark: $requests HTTP requests, $responses HTTP responses"
    [ "$requests" -eq "$sent" ] && [ "$responses" -eq "$sent" ] \
        || { echo "make-sample: tshark sees $requests requests / $responses responses, expected $sent" >&2; exit 1; }
else
    echo "== tshark not installed; skipped the request-count check"
fi
