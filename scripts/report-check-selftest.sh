#!/usr/bin/env bash
# Runs scripts/report-check.sh on every fixture in fixtures/report-check/ and checks the outcome:
# clean.html must pass (exit 0), every other fixture must fail the check (exit 1, not 2 or 3, so a
# browser that cannot start is never mistaken for a detected problem). One line per fixture; exits
# 1 if any outcome differs. Screenshots go to out/report-check/.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=fixtures/report-check
out=out/report-check
mkdir -p "$out"

# fixture:expected exit status
cases="clean:0 inline-script:1 console-error:1 script-runs:1 event-handler:1 external-fetch:1"

failures=0
for case in $cases; do
    name=${case%%:*}
    want=${case##*:}
    html="$dir/$name.html"
    started=$(date +%s%N)
    rc=0
    output=$(bash scripts/report-check.sh "$html" "$out/$name.png" 2>&1) || rc=$?
    ms=$((($(date +%s%N) - started) / 1000000))
    if [ "$want" = 0 ]; then expect="pass"; else expect="fail"; fi
    if [ "$rc" = "$want" ] && { [ "$want" != 0 ] || [ -s "$out/$name.png" ]; }; then
        verdict="ok  "
    else
        verdict="BAD "
        failures=$((failures + 1))
    fi
    printf '%s %-20s expected %s, exit %s, %5d ms: %s\n' "$verdict" "$name.html" "$expect" "$rc" "$ms" \
        "$(printf '%s' "$output" | tr '\n' ' ' | cut -c1-220)"
done

if [ "$failures" -gt 0 ]; then
    echo "report-check-selftest: $failures fixture(s) did not behave as expected" >&2
    exit 1
fi
echo "report-check-selftest: all fixtures behaved as expected"
