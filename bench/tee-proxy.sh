#!/usr/bin/env bash
# Tee proxy overhead: wrk posts the OpenRTB fixture at the same load to (a) an nginx origin directly,
# (b) an nginx reverse proxy (proxy_pass, upstream keepalive) in front of it, and (c) `shadowdiff
# capture proxy` in front of it, recording every exchange into SQLite, and (d) the same proxy
# recording nothing (`--method NONE`: forwarding cost alone). Rounds alternate a/b/c/d so machine
# noise hits all four alike. Two loads: saturating (-c CONNS) for throughput, and one
# connection (-c1) for per-request latency without queueing. Afterwards it checks that the proxy
# stored one exchange per response it passed back.
#
# Usage: bash bench/tee-proxy.sh [seconds per run, default 10] [rounds, default 3] [connections, default 32]
#        WORKERS=n: the nginx proxy's worker processes and the capture proxy's event loops alike
#        (default: one per core, both tools' production setting; WORKERS=1 compares one thread each).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${2:-3}
CONNS=${3:-32}
THREADS=${WORKERS:-$(nproc)}
. bench/lib/setup.sh
require wrk=wrk nginx=nginx-light sqlite3=sqlite3
build_shadowdiff
. bench/lib/nginx.sh
work=$(mktemp -d /tmp/shadowdiff-tee.XXXXXX)
origin=$((20000 + RANDOM % 10000)); nginx_proxy=$((origin + 1)); tee_proxy=$((origin + 2)); relay=$((origin + 3))
start_nginx "$work/origin" "$origin" 1
ORIGIN_PID=$NGINX_PID
# (b): the same origin behind nginx proxy_pass with a keep-alive upstream pool.
mkdir -p "$work/proxy/tmp"
cat >"$work/proxy/nginx.conf" <<CONF
worker_processes $THREADS;
daemon off;
pid $work/proxy/nginx.pid;
error_log $work/proxy/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/proxy/tmp; proxy_temp_path $work/proxy/tmp;
    fastcgi_temp_path $work/proxy/tmp; uwsgi_temp_path $work/proxy/tmp; scgi_temp_path $work/proxy/tmp;
    keepalive_requests 1000000;
    upstream origin { server 127.0.0.1:$origin; keepalive 256; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$nginx_proxy;
        location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
nginx -c "$work/proxy/nginx.conf" -e "$work/proxy/error.log" &
PROXY_PID=$!
"$bin/shadowdiff" capture proxy --listen "$tee_proxy" --upstream "http://127.0.0.1:$origin" --threads "$THREADS" \
    --db "$work/tee.db" >"$work/tee.out" 2>"$work/tee.err" &
TEE_PID=$!
"$bin/shadowdiff" capture proxy --listen "$relay" --upstream "http://127.0.0.1:$origin" --threads "$THREADS" \
    --method NONE --db "$work/relay.db" >/dev/null 2>&1 &
RELAY_PID=$!
trap 'kill -QUIT $ORIGIN_PID $PROXY_PID 2>/dev/null; kill -INT $TEE_PID $RELAY_PID 2>/dev/null; wait; rm -rf "$work"' EXIT
for port in $nginx_proxy $tee_proxy $relay; do
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
done

measure() {  # measure NAME PORT CONNS -> "req/s p50_us p99_us"
    wrk -t1 -c"$3" -d"${SECS}s" --latency -s bench/lib/openrtb-post.lua "http://127.0.0.1:$2/openrtb2/auction" >"$work/wrk.txt"
    awk '
        function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = us($2) }
        /^ +99%/ { p99 = us($2) }
        END { printf "%.0f %.0f %.0f\n", rps, p50, p99 }' "$work/wrk.txt"
}

declare -A results
for round in $(seq "$ROUNDS"); do
    for load in "$CONNS" 1; do
        for target in a b c d; do
            case $target in a) port=$origin ;; b) port=$nginx_proxy ;; c) port=$tee_proxy ;; d) port=$relay ;; esac
            results[$target,$load]+="$(measure $target $port $load);"
        done
    done
done

median() {  # median FIELD "r1;r2;..." (fields: 1 req/s, 2 p50, 3 p99)
    echo "$2" | tr ';' '\n' | grep -v '^$' | awk -v f="$1" '{print $f}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
echo "wrk -t1 POST OpenRTB fixture, ${SECS}s per run, $ROUNDS rounds (medians); nginx proxy workers and capture proxy event loops: $THREADS"
printf "%-34s %6s %10s %9s %9s\n" target conns "req/s" "p50 µs" "p99 µs"
for load in "$CONNS" 1; do
    for target in a b c d; do
        case $target in
            a) name="(a) nginx direct" ;; b) name="(b) nginx proxy_pass" ;;
            c) name="(c) capture proxy, recording" ;; d) name="(d) capture proxy, forwarding only" ;;
        esac
        printf "%-34s %6s %10s %9s %9s\n" "$name" "$load" "$(median 1 "${results[$target,$load]}")" \
            "$(median 2 "${results[$target,$load]}")" "$(median 3 "${results[$target,$load]}")"
    done
    b_rps=$(median 1 "${results[b,$load]}"); c_rps=$(median 1 "${results[c,$load]}")
    b_p50=$(median 2 "${results[b,$load]}"); c_p50=$(median 2 "${results[c,$load]}")
    d_rps=$(median 1 "${results[d,$load]}"); d_p50=$(median 2 "${results[d,$load]}")
    printf "  c/b throughput %.2fx   c-b p50 %+d µs   d/b throughput %.2fx   d-b p50 %+d µs\n" \
        "$(echo "$c_rps / $b_rps" | bc -l)" "$((c_p50 - b_p50))" "$(echo "$d_rps / $b_rps" | bc -l)" "$((d_p50 - b_p50))"
done
kill -INT $TEE_PID $RELAY_PID; wait $TEE_PID $RELAY_PID || true
echo "capture proxy summary:"; sed 's/^/  /' "$work/tee.out"
stored=$(sqlite3 "$work/tee.db" "SELECT count(*) FROM exchanges")
responses=$(sqlite3 "$work/tee.db" "SELECT value FROM capture_counters WHERE name='responses'")
echo "stored $stored of $responses responses passed back"
