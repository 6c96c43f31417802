#!/usr/bin/env bash
# Builds a shadowdiff database of exactly N exchanges for the replay benchmarks, fast: imports the
# committed capture captures/sample.pcap once (104 exchanges), then copies the rows of `exchanges`
# and `exchange_bodies` with INSERT ... SELECT under new ids, doubling the table each step; the last
# step copies only the rows still missing, so the table ends at exactly N (the trim is part of it).
#
# A copy keeps its request, headers, body and production answer. Its id is the original's plus the
# largest id so far; its capture_time_ns moves past the end of what is there (span + 1 ms), and its
# connection number past the largest one, so ids, capture times and connections stay in order and
# --speed still replays a steady pace. capture_counters keep the import's own figures (104).
#
# Usage: bash bench/lib/make-replay-db.sh DB N     (DB must not exist; SHADOWDIFF=path/to/shadowdiff
#        skips the release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
db=${1:?usage: make-replay-db.sh DB N}
n=${2:?usage: make-replay-db.sh DB N}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer, got '$n'" >&2; exit 1; }
[ -e "$db" ] && { echo "$db exists; give a new file" >&2; exit 1; }
. bench/lib/setup.sh
require sqlite3=sqlite3
if [ -n "${SHADOWDIFF:-}" ]; then shadowdiff=$SHADOWDIFF; else build_shadowdiff; shadowdiff=$bin/shadowdiff; fi

start=$(date +%s.%N)
"$shadowdiff" capture --pcap captures/sample.pcap --db "$db" >/dev/null
have=$(sqlite3 "$db" "SELECT count(*) FROM exchanges")
[ "$have" -gt 0 ] || { echo "the import of captures/sample.pcap stored no exchange" >&2; exit 1; }
if [ "$n" -lt "$have" ]; then
    # Fewer than one import: keep the first N.
    sqlite3 "$db" "PRAGMA foreign_keys = ON;
        DELETE FROM exchanges WHERE id NOT IN (SELECT id FROM exchanges ORDER BY id LIMIT $n);"
fi
# One session: no fsync and a rollback journal while copying (appended pages need no undo); the
# file is put back in WAL mode, as shadowdiff keeps it, at the end.
{
    echo "PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;"
    count=$have
    while [ "$count" -lt "$n" ]; do
        add=$(( n - count < count ? n - count : count ))
        # The shifts and the ids to copy are fixed in temp tables before any row is inserted.
        cat <<SQL
BEGIN;
CREATE TEMP TABLE shift AS SELECT max(id) AS id_shift,
    max(capture_time_ns) - min(capture_time_ns) + 1000000 AS time_shift,
    max(connection) AS connection_shift FROM exchanges;
CREATE TEMP TABLE copied AS SELECT id FROM exchanges ORDER BY id LIMIT $add;
INSERT INTO exchanges (id, capture_id, capture_time_ns, connection, client, server, protocol, method,
        target, request_bytes, prod_status, prod_latency_ns, prod_response_bytes, prod_error)
    SELECT e.id + s.id_shift, e.capture_id, e.capture_time_ns + s.time_shift, e.connection + s.connection_shift,
        e.client, e.server, e.protocol, e.method, e.target, e.request_bytes, e.prod_status,
        e.prod_latency_ns, e.prod_response_bytes, e.prod_error
    FROM exchanges e JOIN copied c ON c.id = e.id, shift s ORDER BY e.id;
INSERT INTO exchange_bodies (exchange_id, request_version, request_headers, request_body, prod_headers, prod_body)
    SELECT b.exchange_id + s.id_shift, b.request_version, b.request_headers, b.request_body, b.prod_headers, b.prod_body
    FROM exchange_bodies b JOIN copied c ON c.id = b.exchange_id, shift s ORDER BY b.exchange_id;
DROP TABLE shift; DROP TABLE copied;
COMMIT;
SQL
        count=$(( count + add ))
    done
    echo "PRAGMA journal_mode = WAL;"
} | sqlite3 "$db" >/dev/null
got=$(sqlite3 "$db" "SELECT count(*) FROM exchanges")
bodies=$(sqlite3 "$db" "SELECT count(*) FROM exchange_bodies")
if [ "$got" -ne "$n" ] || [ "$bodies" -ne "$n" ]; then
    echo "made $got exchanges and $bodies bodies, wanted $n" >&2
    exit 1
fi
printf "%s: %s exchanges (%s imported from captures/sample.pcap, the rest copies), %s MB, %.1f s\n" "$db" "$n" "$have" \
    "$(( $(stat -c %s "$db") / 1000000 ))" "$(echo "$(date +%s.%N) - $start" | bc -l)"
