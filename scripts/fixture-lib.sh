# Shell helpers for the scripts that start fixture servers and tcpdump (source it; bash only).

# build_product PRODUCT: `swift build --product PRODUCT` (in the scratch path $SCRATCH when set,
# e.g. .build-NAME) and sets `bin` to the folder of the executables.
build_product() {
    local scratch=()
    [ -n "${SCRATCH:-}" ] && scratch=(--scratch-path "$SCRATCH")
    swift build "${scratch[@]}" --product "$1"
    bin=$(swift build "${scratch[@]}" --show-bin-path)
}

# cleanup_fixtures: kills every pid of the array `pids`, waits for them and removes the folder
# `$work` when set; the scripts' EXIT trap.
cleanup_fixtures() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${work:-}" ] && rm -rf "$work"
    return 0
}

# wait_for_port LOG: prints the PORT of the first `listening on HOST:PORT` line in LOG, waiting up
# to 10 s for it; returns 1 (printing nothing) when none comes.
wait_for_port() {
    local log=$1 port=""
    for _ in $(seq 1 100); do
        port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -1)
        [ -n "$port" ] && { echo "$port"; return 0; }
        sleep 0.1
    done
    return 1
}

# start_tcpdump OUT PORT LOG: records TCP port PORT on `lo` into OUT (nanosecond timestamps, each
# packet written at once, a 32 MiB buffer) in the background, its stderr in LOG; sets TCPDUMP_PID
# and returns once tcpdump listens (1 after 10 s without).
start_tcpdump() {
    local out=$1 port=$2 log=$3
    rm -f "$out"
    tcpdump -i lo -w "$out" -B 32768 -U --immediate-mode -Z root --time-stamp-precision=nano "tcp port $port" 2>"$log" &
    TCPDUMP_PID=$!
    for _ in $(seq 1 100); do
        grep -q 'listening on' "$log" && { sleep 0.2; return 0; }
        sleep 0.1
    done
    return 1
}

# stop_tcpdump LOG: stops TCPDUMP_PID with SIGINT, prints its packet counts, returns 1 if the
# kernel dropped any packet.
stop_tcpdump() {
    local log=$1 dropped
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    grep -E 'packets (captured|received|dropped)' "$log" || true
    dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$log")
    [ "${dropped:-0}" -eq 0 ]
}
