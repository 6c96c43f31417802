#!/usr/bin/env bash
# report-check.sh HTML_FILE SCREENSHOT_PNG
#
# Renders HTML_FILE in headless Chromium from Debian (chromium-headless-shell, else chromium),
# writes a full-page 1280-px-wide PNG screenshot to SCREENSHOT_PNG and fails when the page logs a
# console error or warning, violates its Content-Security-Policy, runs any JavaScript at all,
# attempts any request other than the file itself, has a <script> element, an on* attribute or a
# javascript: URL in its DOM after load, shows no text, or when no screenshot is produced.
# The browser is driven over the DevTools protocol on a pipe by scripts/report_check.py (Python 3
# standard library only); see the comment at its top for how each thing is detected.
#
# Prints on success (stdout):
#   report-check: FILE ok (N console messages, 0 errors, screenshot PNG WxH)
# and otherwise one line on stderr naming FILE. Exit codes:
#   0  the page passed
#   1  the page failed the check (the line lists every problem found)
#   2  usage error: wrong arguments, HTML_FILE unreadable, screenshot directory missing
#   3  the check could not be carried out: no Chromium or python3, the browser did not start or
#      crashed, a DevTools protocol error, or the 60 s time limit was reached
#
# Environment: REPORT_CHECK_BROWSER overrides the browser binary; REPORT_CHECK_TIMEOUT (seconds,
# default 45) bounds the driver; the whole script is bounded at that plus 15 s.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 HTML_FILE SCREENSHOT_PNG" >&2
    exit 2
fi
html=$1
shot=$2
here=$(cd "$(dirname "$0")" && pwd)

if [ ! -f "$html" ] || [ ! -r "$html" ]; then
    echo "report-check: $html: no such readable file" >&2
    exit 2
fi

browser=${REPORT_CHECK_BROWSER:-}
if [ -z "$browser" ]; then
    for candidate in chromium-headless-shell chromium; do
        if command -v "$candidate" >/dev/null 2>&1; then
            browser=$(command -v "$candidate")
            break
        fi
    done
fi
if [ -z "$browser" ] || [ ! -x "$browser" ]; then
    echo "report-check: $html: check not carried out: no Chromium found (apt-get install chromium-headless-shell)" >&2
    exit 3
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "report-check: $html: check not carried out: python3 not found" >&2
    exit 3
fi

driver_timeout=${REPORT_CHECK_TIMEOUT:-45}
case $driver_timeout in
    '' | *[!0-9]* | 0) echo "report-check: $html: REPORT_CHECK_TIMEOUT must be a whole number of seconds > 0" >&2; exit 2 ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/report-check.XXXXXX")

# The driver kills the browser's process group itself; this catches the case where the driver or
# its timeout(1) was killed first (timeout -k, a signal). The browser is the leader of its own process group, so
# killing the group takes its renderer and utility processes along.
cleanup() {
    local status=$? pid
    if [ -s "$tmp/driver.pid" ]; then
        pid=$(cat "$tmp/driver.pid")
        kill -KILL "$pid" 2>/dev/null || true
    fi
    if [ -s "$tmp/browser.pid" ]; then
        pid=$(cat "$tmp/browser.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 3' INT TERM

# In the background and waited for, so that a TERM or INT to this script is handled at once (bash
# runs traps only between foreground commands) and the cleanup above kills driver and browser.
rc=0
timeout -k 5 "$((driver_timeout + 10))" \
    python3 "$here/report_check.py" --browser "$browser" --tmp "$tmp" --timeout "$driver_timeout" \
    "$html" "$shot" &
wait $! || rc=$?
case $rc in
    0 | 1 | 2 | 3) exit "$rc" ;;
    124) echo "report-check: $html: check not carried out: timed out after $((driver_timeout + 10)) s" >&2; exit 3 ;;
    137) echo "report-check: $html: check not carried out: the driver was killed (time limit $((driver_timeout + 10)) s + 5 s, or a signal)" >&2; exit 3 ;;
    *) echo "report-check: $html: check not carried out: the driver exited with status $rc" >&2; exit 3 ;;
esac
