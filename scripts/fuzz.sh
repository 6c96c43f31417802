#!/usr/bin/env bash
# Builds the libFuzzer binary (fuzz/) and fuzzes every parser target in turn.
#
# usage: scripts/fuzz.sh [TARGET...]     (default: every target)
#   FUZZ_SECONDS=N   seconds per target (default 60)
#   FUZZ_RUNS=N      executions per target instead of a time (e.g. 10000000)
#   FUZZ_FLAGS=...   more libFuzzer flags, e.g. -max_len=512
#
# Each target starts from its committed inputs in fixtures/fuzz/TARGET/ and grows a working corpus
# in out/fuzz/corpus/TARGET/. A crash, trap, leak, timeout (10 s) or out-of-memory input is copied
# to fixtures/fuzz/TARGET/ (commit it: `make test` replays every input there) and the script exits 1.
# A summary of executions per target is printed and written to out/fuzz/summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(packet-decoding tcp-reassembly http1-request http1-response json-diff rules protobuf http2-frames hpack)
budget=(-max_total_time="${FUZZ_SECONDS:-60}")
[ -n "${FUZZ_RUNS:-}" ] && budget=(-runs="$FUZZ_RUNS")

# gold cannot link the sanitized objects (it fails with an internal error); lld can.
echo '{"schemaVersion": "1.0", "swiftCompiler": {"extraCLIOptions": ["-use-ld=lld"]}}' >fuzz/.toolset.json
swift build --package-path fuzz -c release -Xswiftc -sanitize=fuzzer,address --toolset "$PWD/fuzz/.toolset.json" || exit 2
binary=fuzz/.build/release/shadowdiff-fuzz

mkdir -p out/fuzz
summary=out/fuzz/summary.txt
printf "%-16s %14s %10s %8s %s\n" target executions exec/s corpus result | tee "$summary"
failed=0
for target in "${targets[@]}"; do
    corpus=out/fuzz/corpus/$target artifacts=out/fuzz/artifacts/$target
    rm -rf "$artifacts"  # findings of earlier runs were copied to fixtures/fuzz/ then
    mkdir -p "$corpus" "$artifacts" "fixtures/fuzz/$target"
    log=out/fuzz/$target.log
    echo "fuzz: $target (${budget[*]}), log: $log" >&2
    SHADOWDIFF_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=1 "$binary" "${budget[@]}" ${FUZZ_FLAGS:-} -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "fixtures/fuzz/$target" 2>&1 |
        tee "$log" | grep --line-buffered -E "^#[0-9]+.*(pulse|REDUCE|NEW)" | awk 'NR % 20 == 1' >&2
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    result=ok
    for found in "$artifacts"/*; do
        [ -e "$found" ] || continue
        cp "$found" "fixtures/fuzz/$target/$(basename "$found")"
        result="FOUND $(basename "$found") (copied to fixtures/fuzz/$target/)"
        failed=1
    done
    if [ -z "$runs" ] && [ "$result" = ok ]; then result="FAILED (see $log)"; failed=1; fi
    printf "%-16s %14s %10s %8s %s\n" "$target" "${runs:-?}" "${rate:-?}" "$(ls "$corpus" | wc -l)" "$result" | tee -a "$summary"
done
exit $failed
