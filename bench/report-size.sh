#!/usr/bin/env bash
# Review reports of a large run stay small and are written in bounded memory (issue 7): on a run of
# N OpenRTB pairs (default 1,000,000), `shadowdiff report` writing the HTML, Markdown, JUnit and
# JSON reports, against `shadowdiff diff` alone on the same database in the same run (the report's
# overhead as a ratio). Both under GNU time -v on core $CORE: elapsed, CPU, peak RSS; then the
# size of each report file, its example and group counts, and the HTML checked in headless Chromium
# (scripts/report-check.sh).
#
# Usage: bash bench/report-size.sh [N, default 1000000]
# Env:   REPORT_DB=path  use (or build and keep) this database; otherwise it is built in a temporary
#                        directory (bench/lib/make-diff-db.sh with REPLAY_EXCHANGES, default 20800:
#                        20,800 exchanges really replayed, the rest copies of their results) and deleted.
#        CORE=n (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
core=${CORE:-1}
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
swift build -c release --product shadowdiff >/dev/null
swift build -c release --product fixture-bidder >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=${REPORT_DB:-$work/report.db}
if [ ! -e "$db" ]; then
    REPLAY_EXCHANGES=${REPLAY_EXCHANGES:-20800} SHADOWDIFF=$bin/shadowdiff bash bench/lib/make-diff-db.sh "$db" "$n"
fi
cat "$db" >/dev/null

measure() { # name, then the command; prints "name seconds cpu_seconds rss_mb exit"
    local name=$1; shift
    local rc=0
    /usr/bin/time -v -o "$work/$name.time" taskset -c "$core" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    local wall rss user sys
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$name.time" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    user=$(sed -n 's/.*User time (seconds): //p' "$work/$name.time")
    sys=$(sed -n 's/.*System time (seconds): //p' "$work/$name.time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$name.time")
    echo "$name $wall $(echo "$user + $sys" | bc) $((rss / 1024)) $rc"
}

echo "report-size: $n pairs in $db, core $core"
diff_line=$(measure diff "$bin/shadowdiff" diff --db "$db" --run diffbench --rules openrtb)
report_line=$(measure report "$bin/shadowdiff" report --db "$db" --run diffbench --rules openrtb \
    --html "$work/r.html" --markdown "$work/r.md" --junit "$work/r.xml" --json "$work/r.json")
printf '%-8s %10s %10s %10s %6s\n' step wall_s cpu_s rss_mb exit
printf '%-8s %10s %10s %10s %6s\n' $diff_line
printf '%-8s %10s %10s %10s %6s\n' $report_line
read -r _ dw dc dr _ <<<"$diff_line"
read -r _ rw rc rr _ <<<"$report_line"
echo "report/diff: wall $(echo "scale=2; $rw / $dw" | bc), cpu $(echo "scale=2; $rc / $dc" | bc), rss $(echo "scale=2; $rr / $dr" | bc)"
for f in r.html r.md r.xml r.json; do
    printf '%-7s %8d bytes\n' "$f" "$(stat -c %s "$work/$f")"
done
echo "html: $(grep -o 'class="exchange"' "$work/r.html" | wc -l) exchanges in full, $(grep -o '<details class="group"' "$work/r.html" | wc -l) groups"
bash scripts/report-check.sh "$work/r.html" "$work/r.png"
