#!/usr/bin/env bash
# Diff throughput: how many response pairs per second `shadowdiff diff --rules openrtb` compares on
# one core, with its peak RSS (goal: >= 50,000 pairs/s, <= 150 MB on 1,000,000 OpenRTB pairs),
# against a Python script doing the same with deepdiff (bench/deepdiff_pairs.py) in the same run.
#
# 1. A database with a replay run of N real OpenRTB response pairs (bench/lib/make-diff-db.sh: the
#    exchanges of captures/sample.pcap copied to N, then replayed with `shadowdiff replay
#    --concurrency 32` to the baseline and candidate fixture bidders), or the one DIFF_DB names.
# 2. The database file is read once (cat > /dev/null) so both tools start with it in the page cache.
# 3. `shadowdiff diff --db DB --run RUN --rules openrtb --json FILE` on core $CORE (taskset) under
#    GNU time -v: elapsed, CPU, peak RSS; pairs and mismatched pairs from its JSON report.
# 4. bench/deepdiff_pairs.py on the same core under GNU time -v, on all N pairs or, when a probe of
#    its first 2,000 pairs says that would take over 10 minutes (DEEPDIFF_MAX_SECONDS=600), on the
#    first DEEPDIFF_LIMIT pairs
#    (the table says which). deepdiff is installed from PyPI into a venv outside the source tree.
# 5. The table, the ratio shadowdiff/deepdiff (pairs/s), and both difference counts (equal when
#    deepdiff saw all pairs; as shares of the pairs each tool compared otherwise).
# 6. Unless PERF_SECONDS=0: a separate, untimed `shadowdiff diff` on the same core profiled with
#    `perf record --call-graph dwarf -p PID` for PERF_SECONDS (20) seconds after PERF_SKIP (5)
#    seconds; self time by library and by symbol, and the inclusive time of the frames that say
#    where the time goes, are printed.
#
# Usage: bash bench/diff-throughput.sh [N, default 1000000] [DEEPDIFF_LIMIT, default 100000]
# Env:   DIFF_DB=path   use this database (with run DIFF_RUN of N pairs); when it does not exist it is
#                       built there and kept. Without DIFF_DB the database is built in a temporary
#                       directory and deleted at the end (1,000,000 pairs: about 5.5 GB).
#        DIFF_RUN=name  the run (default diffbench); REPLAY_EXCHANGES=M: see bench/lib/make-diff-db.sh
#        CORE=n         the core both tools are pinned to (default 1)
#        MAX_SECONDS=s  upper bound on each timed step (default 7200); a step over it is stopped
#        PERF_SECONDS, PERF_SKIP: the profile (see 6); DEEPDIFF_VERSION (default 9.1.0);
#        DEEPDIFF_MAX_SECONDS (see 4)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DEEPDIFF_LIMIT=${2:-100000}
RUN=${DIFF_RUN:-diffbench}
CORE=${CORE:-1}
MAX_SECONDS=${MAX_SECONDS:-7200}
PERF_SECONDS=${PERF_SECONDS:-20}
PERF_SKIP=${PERF_SKIP:-5}
DEEPDIFF_VERSION=${DEEPDIFF_VERSION:-9.1.0}
DEEPDIFF_MAX_SECONDS=${DEEPDIFF_MAX_SECONDS:-600}
PROBE=2000
for v in N DEEPDIFF_LIMIT CORE MAX_SECONDS PERF_SECONDS PERF_SKIP DEEPDIFF_MAX_SECONDS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a whole number, got '${!v}'" >&2; exit 2; }
done
[ "$N" -gt 0 ] && [ "$DEEPDIFF_LIMIT" -gt 0 ] || { echo "N and DEEPDIFF_LIMIT must be positive" >&2; exit 2; }

. bench/lib/setup.sh
require sqlite3=sqlite3 /usr/bin/time=time bc=bc taskset=util-linux python3=python3
[ "$PERF_SECONDS" -gt 0 ] && require perf=linux-perf
echo "building release binaries ..." >&2
build_shadowdiff
swift build -c release --product fixture-bidder >/dev/null
. bench/lib/replay.sh   # thousands, count_errors
work=$(mktemp -d /tmp/shadowdiff-diff-bench.XXXXXX)
pids=()
cleanup() {
    local p c
    for p in "${pids[@]}"; do
        for c in $(pgrep -P "$p" 2>/dev/null); do kill -TERM "$c" 2>/dev/null || true; done
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# deepdiff from PyPI, into a venv outside the source tree.
venv=${XDG_CACHE_HOME:-$HOME/.cache}/shadowdiff-bench/venv
if ! "$venv/bin/python" -c "import deepdiff, sys; sys.exit(deepdiff.__version__ != '$DEEPDIFF_VERSION')" 2>/dev/null; then
    echo "installing deepdiff $DEEPDIFF_VERSION into $venv ..." >&2
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then   # Debian keeps venv's pip apart
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "deepdiff==$DEEPDIFF_VERSION" >&2
fi
python_version=$("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])')

# 1. The database.
if [ -n "${DIFF_DB:-}" ]; then db=$DIFF_DB; keep=1; else db=$work/diff.db; keep=0; fi
build_note="reused $db"
if [ ! -e "$db" ]; then
    echo "building $db: $(thousands "$N") pairs (bench/lib/make-diff-db.sh) ..." >&2
    RUN=$RUN SHADOWDIFF=$bin/shadowdiff bash bench/lib/make-diff-db.sh "$db" "$N" >"$work/make.out"
    cat "$work/make.out" >&2
    build_note="built in this run by bench/lib/make-diff-db.sh: $(sed 's/^[^:]*: //' "$work/make.out")"
fi
pairs_in_db=$(sqlite3 "$db" "SELECT count(*) FROM result_pairs WHERE run = '$RUN'")
[ "$pairs_in_db" -eq "$N" ] || { echo "$db holds $pairs_in_db pairs in run '$RUN', wanted $N" >&2; exit 1; }
db_mb=$(( $(du -cb "$db"* | tail -1 | cut -f1) / 1000000 ))

# 2. Into the page cache, for both tools alike.
echo "reading $db ($db_mb MB) into the page cache ..." >&2
cat "$db"* >/dev/null

# timed NAME CMD...: runs CMD on core $CORE under GNU time -v (stdout to $work/NAME.out, stderr to
# $work/NAME.err), shows elapsed time and RSS every 10 s, stops it after MAX_SECONDS.
# Writes "wall_s cpu_s peak_rss_kb exit_code" to $work/NAME.figures.
timed() {
    local name=$1
    shift
    taskset -c "$CORE" /usr/bin/time -v -o "$work/time-$name" "$@" >"$work/$name.out" 2>"$work/$name.err" &
    local tpid=$! child rss last s rc
    pids+=("$tpid")
    for (( s = 1; s <= MAX_SECONDS; s++ )); do
        kill -0 "$tpid" 2>/dev/null || break
        sleep 1
        if (( s % 10 == 0 )) && kill -0 "$tpid" 2>/dev/null; then
            child=$(pgrep -P "$tpid" | head -1 || true)
            rss=$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$child/status" 2>/dev/null || true)
            last=$(tail -n 1 "$work/$name.err" 2>/dev/null | tr -d '\r' | cut -c1-100)
            echo "  $name: ${s} s, RSS ${rss:-?} MB${last:+; $last}" >&2
        fi
    done
    if kill -0 "$tpid" 2>/dev/null; then
        echo "$name ran over MAX_SECONDS=$MAX_SECONDS s; stopping it" >&2
        for child in $(pgrep -P "$tpid"); do kill -TERM "$child" 2>/dev/null || true; done
    fi
    rc=0
    wait "$tpid" || rc=$?
    awk -F': ' -v rc="$rc" '
        /Elapsed \(wall clock\)/ { n = split($2, t, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + t[i] }
        /User time \(seconds\)/ { cpu += $2 }
        /System time \(seconds\)/ { cpu += $2 }
        /Maximum resident set size/ { rss = $2 }
        END { printf "%s %s %s %s\n", w, cpu, rss, rc }' "$work/time-$name" >"$work/$name.figures"
}

# 3. shadowdiff diff.
sd_cmd=("$bin/shadowdiff" diff --db "$db" --run "$RUN" --rules openrtb --json "$work/report.json")
echo "shadowdiff diff on core $CORE: $(thousands "$N") pairs ..." >&2
timed shadowdiff "${sd_cmd[@]}"
read -r sd_s sd_cpu sd_kb sd_rc <"$work/shadowdiff.figures"
if [ "$sd_rc" -gt 1 ] || [ ! -s "$work/report.json" ]; then   # 1: a gate was crossed, as expected here
    echo "shadowdiff diff failed (exit $sd_rc):" >&2; cat "$work/shadowdiff.out" "$work/shadowdiff.err" >&2; exit 1
fi
read -r sd_pairs sd_diff < <(python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))["diff"]; print(d["pairs"], d["mismatched"])' "$work/report.json")

# 4. deepdiff: all N pairs, unless the probe says that would take over DEEPDIFF_MAX_SECONDS.
echo "deepdiff probe on core $CORE: the first $(thousands "$PROBE") pairs ..." >&2
timed probe "$venv/bin/python" bench/deepdiff_pairs.py "$db" "$RUN" --limit "$PROBE"
read -r _ _ _ probe_rc <"$work/probe.figures"
[ "$probe_rc" -eq 0 ] || { echo "deepdiff_pairs.py failed:" >&2; cat "$work/probe.out" "$work/probe.err" >&2; exit 1; }
probe_rate=$(awk '/^pairs\/s/ { print $2 }' "$work/probe.out")
estimate_s=$(echo "$N / $probe_rate" | bc -l)
if (( $(echo "$estimate_s > $DEEPDIFF_MAX_SECONDS" | bc -l) )) && [ "$DEEPDIFF_LIMIT" -lt "$N" ]; then
    dd_limit=$DEEPDIFF_LIMIT
    dd_note="the first $(thousands "$dd_limit") of $(thousands "$N") pairs: all of them would take about $(printf %.0f "$(echo "$estimate_s / 60" | bc -l)") minutes at the probe's $(thousands "$probe_rate") pairs/s"
else
    dd_limit=$N
    dd_note="all $(thousands "$N") pairs"
fi
echo "deepdiff on core $CORE: $dd_note ..." >&2
timed deepdiff "$venv/bin/python" bench/deepdiff_pairs.py "$db" "$RUN" --limit "$dd_limit"
read -r dd_s dd_cpu dd_kb dd_rc <"$work/deepdiff.figures"
[ "$dd_rc" -eq 0 ] || { echo "deepdiff_pairs.py failed:" >&2; cat "$work/deepdiff.out" "$work/deepdiff.err" >&2; exit 1; }
dd_pairs=$(awk '/^pairs compared/ { print $3 }' "$work/deepdiff.out")
dd_diff=$(awk '/^pairs with differences/ { print $4 }' "$work/deepdiff.out")

# 5. The figures.
sd_rate=$(echo "$sd_pairs / $sd_s" | bc -l)
dd_rate=$(echo "$dd_pairs / $dd_s" | bc -l)
row() {  # tool pairs wall cpu kb differing
    printf "| %s | %s | %.1f | %.1f | %s | %s | %.0f | %s (%.2f%%) |\n" "$1" "$(thousands "$2")" "$3" "$4" \
        "$(thousands "$(echo "$2 / $3" | bc -l)")" "$(thousands "$(echo "$2 / $4" | bc -l)")" \
        "$(echo "$5 / 1024" | bc -l)" "$(thousands "$6")" "$(echo "100 * $6 / $2" | bc -l)"
}
echo
echo "## Diff throughput ($(date -u +%Y-%m-%d), $(nproc) cores, both tools pinned to core $CORE)"
echo
echo "Command: \`bash bench/diff-throughput.sh $N $DEEPDIFF_LIMIT\`; database ($db_mb MB with its WAL): $build_note."
echo
echo "| tool | pairs | wall s | CPU s | pairs/s | pairs per CPU s | peak RSS MB | pairs with differences |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
row "shadowdiff diff --rules openrtb" "$sd_pairs" "$sd_s" "$sd_cpu" "$sd_kb" "$sd_diff"
row "deepdiff $DEEPDIFF_VERSION (Python $python_version)" "$dd_pairs" "$dd_s" "$dd_cpu" "$dd_kb" "$dd_diff"
echo
printf -- "- ratio shadowdiff/deepdiff (pairs/s): **%.1fx** (per CPU second: %.1fx)\n" "$(echo "$sd_rate / $dd_rate" | bc -l)" \
    "$(echo "($sd_pairs / $sd_cpu) / ($dd_pairs / $dd_cpu)" | bc -l)"
echo "- deepdiff compared $dd_note."
if [ "$dd_pairs" -eq "$sd_pairs" ]; then
    if [ "$dd_diff" -eq "$sd_diff" ]; then agree="the same count"; else agree="**counts differ by $(( dd_diff - sd_diff ))**"; fi
    echo "- pairs with differences: shadowdiff $(thousands "$sd_diff"), deepdiff $(thousands "$dd_diff") of the same pairs: $agree."
else
    gap=$(echo "100 * $dd_diff / $dd_pairs - 100 * $sd_diff / $sd_pairs" | bc -l)
    verdict="comparable"; (( $(echo "$gap > 0.5 || $gap < -0.5" | bc -l) )) && verdict="**not comparable**"
    printf -- "- pairs with differences: shadowdiff %s of %s (%.2f%%), deepdiff %s of its first %s (%.2f%%): %s (%+.2f points; the pairs repeat every 104 exchanges).\n" \
        "$(thousands "$sd_diff")" "$(thousands "$sd_pairs")" "$(echo "100 * $sd_diff / $sd_pairs" | bc -l)" \
        "$(thousands "$dd_diff")" "$(thousands "$dd_pairs")" "$(echo "100 * $dd_diff / $dd_pairs" | bc -l)" "$verdict" "$gap"
fi
echo "- deepdiff's time: $(sed -n 's/^elapsed s *//p' "$work/deepdiff.out"); DeepDiff report keys: $(sed -n 's/^ *DeepDiff report keys *//p' "$work/deepdiff.out")."
v=met; (( $(echo "$sd_rate >= 50000" | bc -l) )) || v="NOT met"
printf -- "- goal >= 50,000 pairs/s: **%s** (%s pairs/s)\n" "$v" "$(thousands "$sd_rate")"
v=met; [ "$sd_kb" -le $((150 * 1024)) ] || v="NOT met"
printf -- "- goal peak RSS <= 150 MB: **%s** (%.0f MB)\n" "$v" "$(echo "$sd_kb / 1024" | bc -l)"
echo "- shadowdiff: \`taskset -c $CORE /usr/bin/time -v shadowdiff diff --db DB --run $RUN --rules openrtb --json FILE\` (exit $sd_rc: the gates fail on the candidate's differences, as they should)"
echo "- deepdiff: \`taskset -c $CORE /usr/bin/time -v $venv/bin/python bench/deepdiff_pairs.py DB $RUN --limit $dd_limit\`"

# 6. Where shadowdiff diff spends its time.
if [ "$PERF_SECONDS" -gt 0 ]; then
    echo "profiling a separate shadowdiff diff on core $CORE: perf record for $PERF_SECONDS s after $PERF_SKIP s ..." >&2
    taskset -c "$CORE" "${sd_cmd[@]}" >/dev/null 2>&1 &
    ppid=$!
    pids+=("$ppid")
    sleep "$PERF_SKIP"
    if kill -0 "$ppid" 2>/dev/null; then
        # DWARF unwinding: with frame pointers (-g) a third of the samples, in libswiftCore, lost their callers.
        perf record -q --call-graph dwarf,16384 -F 499 -o "$work/perf.data" -p "$ppid" -- sleep "$PERF_SECONDS" \
            >/dev/null 2>&1 || true
    fi
    kill -TERM "$ppid" 2>/dev/null || true
    wait "$ppid" 2>/dev/null || true
    if [ -s "$work/perf.data" ]; then
        demangle=(cat)
        command -v swift >/dev/null && demangle=(swift demangle --simplified)
        perf report -i "$work/perf.data" --no-children --stdio --sort dso -g none --percent-limit 0.5 \
            >"$work/perf-dso.txt" 2>/dev/null || true
        perf report -i "$work/perf.data" --no-children --stdio --sort dso,symbol -g none --percent-limit 0.7 \
            >"$work/perf-self.txt" 2>/dev/null || true
        perf report -i "$work/perf.data" --children --stdio --sort symbol -g none --percent-limit 2 \
            >"$work/perf-children.txt" 2>/dev/null || true
        # The lines with figures, demangled, at most $2 of them; never fails (set -e, pipefail).
        figures() { { grep '%' "$1" | grep -v '^#' | "${demangle[@]}" | cut -c1-180 | sed 's/ *$//' | head -n "$2"; } || true; }
        echo
        echo "### perf: \`perf record --call-graph dwarf -F 499 -p PID\` for $PERF_SECONDS s of \`shadowdiff diff\` (after its first $PERF_SKIP s)"
        echo
        echo "Self time by library:"
        echo '```'
        figures "$work/perf-dso.txt" 12
        echo '```'
        echo "Top symbols by self time:"
        echo '```'
        figures "$work/perf-self.txt" 30
        echo '```'
        echo "Inclusive time (children) of the frames that say where the time goes (glue frames left out):"
        echo '```'
        figures "$work/perf-children.txt" 400 |
            grep -Ev 'partial apply|thunk|closure #|\(inlined\)|\] 0x|_start$|DispatchQueue|_dispatch|SerializedDatabase|Database\.(isolated|inSavepoint|inTransaction)|DatabasePool|Pool\.get|swift_job_run|runJobInEstablished|__libc_start|_main *$|Main\.main|ParsableCommand|\[k\]' |
            head -n 30 || true
        echo '```'
    else
        echo "(perf recorded nothing: the diff ended within PERF_SKIP=$PERF_SKIP s)"
    fi
fi
if [ "$keep" -eq 1 ]; then echo; echo "- database kept: $db"; fi
