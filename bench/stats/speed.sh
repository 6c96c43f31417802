#!/usr/bin/env bash
# Times ShadowStats on 10^6 pairs in a release build: builds only the ShadowStats target with -O,
# compiles bench/stats/speed.swift against its objects, runs it. Usage: bench/stats/speed.sh [pairs]
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --target ShadowStats >/dev/null
bin=$(swift build -c release --show-bin-path)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
swiftc -O -module-name StatsSpeed -I "$bin/Modules" -o "$out/stats-speed" \
    bench/stats/speed.swift "$bin"/ShadowStats.build/*.o 2>&1 | grep -v "^$" || true
"$out/stats-speed" "${1:-1000000}"
