#!/usr/bin/env python3
"""The Python peer of `shadowdiff diff --rules openrtb`, for bench/diff-throughput.sh.

Reads the baseline/candidate response pairs of a replay run from a shadowdiff database, in pages
of --page pairs (keyset pagination on the `results` primary key, warm-up rows left out, the same
pairs as the `result_pairs` view), undoes Content-Encoding (gzip, x-gzip, deflate) as the headers
say, parses both bodies with `json.loads` and compares them with `deepdiff.DeepDiff`, using the
closest equivalent of shadowdiff's `openrtb` rules that DeepDiff's own options can express:

- per-response noise is left out: `id`, `bidid`, `ext`, and every bid's `id` and `ext`
  (`exclude_paths`, and `exclude_regex_paths` for the bids);
- arrays are compared as multisets (`ignore_order=True`: seatbids, bids, adomain, cat, ...);
- prices (every number) are equal when they agree to 4 decimal places
  (`significant_digits=4`). shadowdiff's default is a relative tolerance of 0.0001, which DeepDiff
  cannot express together with ignore_order (its `math_epsilon` is absolute and, per its own
  warning, has no effect on nested objects when ignore_order is on);
- no-bid is one value: HTTP 204, an empty body, a body without `seatbid` or with an empty one
  (with or without `nbr`) all become `None`, so 204 against an empty seatbid is no difference;
- an answer that is neither 200 nor 204 is compared as {status, body}; a request that failed on
  a side as {error}.

DeepDiff compares whole responses, so a difference in any field it does not exclude (adm, adid,
cat, w, h, seat, cur, ...) counts too; on the fixture bidders only the documented decision
fields differ (fixtures/README.md), so both tools should find the same pairs.

Prints the pairs compared, the pairs with differences (and DeepDiff's report keys over them),
elapsed seconds (with the share spent reading and decoding, in json.loads and in DeepDiff) and
pairs per second. Progress goes to stderr every 10 s.

Usage: deepdiff_pairs.py DB RUN [--limit N] [--page N]
Needs deepdiff (bench/diff-throughput.sh installs it into a venv outside the source tree).
"""
import argparse
import json
import sqlite3
import sys
import time
import zlib

try:
    import deepdiff
    from deepdiff import DeepDiff
except ImportError:
    sys.exit("deepdiff_pairs.py: the deepdiff package is missing (pip install deepdiff); "
             "bench/diff-throughput.sh installs it into a venv")

EXCLUDE = ["root['id']", "root['bidid']", "root['ext']"]
# Every bid's id and ext. The same as exclude_paths "root['seatbid'][*]['bid'][*]['id']" (and
# ['ext']), which DeepDiff 9 accepts too, but about 15% faster on these responses.
EXCLUDE_REGEX = [r"^root\['seatbid'\]\[\d+\]\['bid'\]\[\d+\]\['(id|ext)'\]$"]
SIGNIFICANT_DIGITS = 4

PAIRS_SQL = """
SELECT b.pass, b.exchange_id,
       b.status, b.error, bb.headers, bb.body,
       c.status, c.error, cb.headers, cb.body
FROM results b
JOIN results c ON c.run_id = b.run_id AND c.pass = b.pass AND c.exchange_id = b.exchange_id
              AND c.side = 'candidate'
LEFT JOIN result_bodies bb ON bb.run_id = b.run_id AND bb.pass = b.pass
              AND bb.exchange_id = b.exchange_id AND bb.side = 'baseline'
LEFT JOIN result_bodies cb ON cb.run_id = c.run_id AND cb.pass = c.pass
              AND cb.exchange_id = c.exchange_id AND cb.side = 'candidate'
WHERE b.run_id = ? AND b.side = 'baseline' AND b.warmup = 0 AND (b.pass, b.exchange_id) > (?, ?)
ORDER BY b.pass, b.exchange_id
LIMIT ?
"""

MAX_DECODED = 64 << 20  # the same cap as shadowdiff's ContentDecoder


def content_codings(headers):
    """The Content-Encoding codings of a CRLF-joined header block, lower-cased, identity left out."""
    if not headers:
        return []
    codings = []
    for line in headers.split("\r\n"):
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "content-encoding":
            codings += [c.strip().lower() for c in value.split(",")]
    return [c for c in codings if c and c != "identity"]


def inflate(data, wbits):
    d = zlib.decompressobj(wbits)
    out = d.decompress(data, MAX_DECODED)
    if d.unconsumed_tail or not d.eof:
        raise ValueError("truncated or too large")
    return out


def decode(body, headers):
    """The body with its content codings undone (last applied first); as sent when it cannot be."""
    codings = content_codings(headers)
    if not codings or not body:
        return body
    data = body
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            attempts = (16 + zlib.MAX_WBITS,)
        elif coding == "deflate":
            attempts = (zlib.MAX_WBITS, -zlib.MAX_WBITS)  # zlib-wrapped, or raw deflate
        else:
            return body
        for wbits in attempts:
            try:
                data = inflate(data, wbits)
                break
            except (zlib.error, ValueError):
                continue
        else:
            return body
    return data


def side_value(status, error, headers, body):
    """What is compared for one side (see the module docstring); (value, seconds in json.loads)."""
    if status is None:
        return {"error": error or "no response"}, 0.0
    body = decode(body or b"", headers)
    t = time.perf_counter()
    try:
        doc = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        doc = bytes(body)
    spent = time.perf_counter() - t
    if status in (200, 204):
        if status == 204 or doc is None:
            return None, spent
        if isinstance(doc, dict) and not doc.get("seatbid"):
            return None, spent  # no seatbid, an empty one, or nbr: no bid
        return doc, spent
    return {"status": status, "body": doc}, spent


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db")
    ap.add_argument("run", help="the replay run's name")
    ap.add_argument("--limit", type=int, default=0, help="compare only the first N pairs (0: all)")
    ap.add_argument("--page", type=int, default=1000, help="pairs read per query")
    args = ap.parse_args()

    con = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    row = con.execute("SELECT id FROM runs WHERE name = ?", (args.run,)).fetchone()
    if row is None:
        sys.exit(f"deepdiff_pairs.py: no run named '{args.run}' in {args.db}")
    run_id = row[0]
    limit = args.limit if args.limit > 0 else None
    print(f"deepdiff {deepdiff.__version__} (Python {sys.version.split()[0]}): run '{args.run}' in {args.db}, "
          f"{'first ' + format(limit, ',') if limit else 'all'} pairs", flush=True)
    print(f"options: ignore_order=True, significant_digits={SIGNIFICANT_DIGITS}, exclude_paths={EXCLUDE}, "
          f"exclude_regex_paths={EXCLUDE_REGEX}", flush=True)

    pairs = differing = 0
    report_keys = {}
    t_parse = t_diff = 0.0
    start = time.perf_counter()
    next_progress = start + 10
    after = (-1, 0)
    while limit is None or pairs < limit:  # ends on an empty page or at the limit
        want = args.page if limit is None else min(args.page, limit - pairs)
        rows = con.execute(PAIRS_SQL, (run_id, after[0], after[1], want)).fetchall()
        if not rows:
            break
        for (pass_, exchange_id, b_status, b_error, b_headers, b_body,
             c_status, c_error, c_headers, c_body) in rows:
            a, ta = side_value(b_status, b_error, b_headers, b_body)
            b, tb = side_value(c_status, c_error, c_headers, c_body)
            t = time.perf_counter()
            diff = DeepDiff(a, b, ignore_order=True, significant_digits=SIGNIFICANT_DIGITS,
                            exclude_paths=EXCLUDE, exclude_regex_paths=EXCLUDE_REGEX)
            t_diff += time.perf_counter() - t
            t_parse += ta + tb
            pairs += 1
            if diff:
                differing += 1
                for key in diff:
                    report_keys[key] = report_keys.get(key, 0) + 1
        after = (rows[-1][0], rows[-1][1])
        now = time.perf_counter()
        if now >= next_progress:
            next_progress = now + 10
            print(f"deepdiff_pairs: {pairs:,} pairs in {now - start:.0f} s ({pairs / (now - start):,.0f}/s), "
                  f"{differing:,} with differences", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    con.close()

    share = 100.0 * differing / pairs if pairs else 0.0
    print(f"pairs compared          {pairs}")
    print(f"pairs with differences  {differing} ({share:.2f}%)")
    print("  DeepDiff report keys   " + (", ".join(f"{k} {v}" for k, v in sorted(report_keys.items())) or "none"))
    other = elapsed - t_parse - t_diff
    print(f"elapsed s               {elapsed:.2f} (DeepDiff {t_diff:.2f}, json.loads {t_parse:.2f}, "
          f"reading and decoding {other:.2f})")
    print(f"pairs/s                 {pairs / elapsed if elapsed > 0 else 0:.0f}")


if __name__ == "__main__":
    main()
