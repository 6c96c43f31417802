#!/usr/bin/env python3
"""Renders one HTML file in headless Chromium and fails when the page does anything a static,
script-free report must not do. Standard library only. Run through scripts/report-check.sh, which
finds the browser, makes the temporary directory and kills the browser if this driver dies.

    report_check.py --browser PATH --tmp DIR [--timeout S] HTML_FILE SCREENSHOT_PNG

The browser is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 carries
commands to the browser, fd 4 its answers and events, each message JSON ending in a NUL byte), so
no port is opened. Before the file is loaded, the page's session enables:

  Runtime   consoleAPICalled (any console.* call), exceptionThrown
  Log       entryAdded: messages the browser itself logs (CSP violations, failed loads, ...)
  Debugger  scriptParsed / scriptFailedToParse: fires for every script V8 compiles in the page
            (inline, external, event handler, javascript: URL, eval), so "nothing ran" is proved
            by the absence of these events rather than by looking for a side effect
  Network   requestWillBeSent: every request, including ones CSP then blocks
  Audits    issueAdded: ContentSecurityPolicyIssue and friends
  Page      loadEventFired, frameAttached, javascriptDialogOpening (answered so alert() cannot hang)
  Target    auto-attach: a worker or out-of-process frame counts as a failure

After the load event and a quiet period, DOM.getDocument (no JavaScript) is walked for <script>
elements, on* attributes and javascript: URLs, and Page.captureScreenshot writes the PNG.

Exit codes: 0 the page passed; 1 the page failed the check; 2 usage error; 3 the check could not
be carried out (browser did not start or crashed, protocol error, timeout).
"""

import argparse
import base64
import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3

VIEWPORT_WIDTH = 1280
VIEWPORT_HEIGHT = 900
MAX_SHOT_HEIGHT = 16384
QUIET_SECONDS = 0.5  # after the load event, wait until the page has been silent this long
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "srcdoc"}


class HarnessError(Exception):
    """The check could not be carried out (exit 3)."""


def short(text, limit=160):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DevToolsPipe:
    """Minimal DevTools protocol client over the two pipes of --remote-debugging-pipe."""

    def __init__(self, to_browser, from_browser, deadline):
        self.to_browser = to_browser
        self.from_browser = from_browser
        self.deadline = deadline
        self.pending = []  # bytes of a message not yet ended by its NUL
        self.next_id = 0
        self.replies = {}
        self.events = []  # (method, params, sessionId) in arrival order
        self.last_event_at = time.monotonic()
        self.closed = False

    def remaining(self):
        return self.deadline - time.monotonic()

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            if self.remaining() <= 0:
                raise HarnessError(f"timed out sending {method}")
            _, writable, _ = select.select([], [self.to_browser], [], self.remaining())
            if writable:
                try:
                    data = data[os.write(self.to_browser, data):]
                except BrokenPipeError:
                    raise HarnessError(f"the browser closed the DevTools pipe (sending {method})")
        return self.next_id

    def pump(self, timeout):
        """Reads whatever arrives within timeout seconds (at most until the deadline)."""
        timeout = max(0.0, min(timeout, self.remaining()))
        if self.closed:
            time.sleep(timeout)
            return
        readable, _, _ = select.select([self.from_browser], [], [], timeout)
        if not readable:
            return
        chunk = os.read(self.from_browser, 1 << 20)
        if not chunk:
            self.closed = True
            return
        if b"\0" not in chunk:  # part of a long message (a DOM tree, a screenshot): just keep it
            self.pending.append(chunk)
            return
        parts = chunk.split(b"\0")
        parts[0] = b"".join(self.pending) + parts[0]
        self.pending = [parts.pop()]
        for raw in parts:
            if not raw:
                continue
            message = json.loads(raw)
            if "id" in message:
                self.replies[message["id"]] = message
            else:
                self.events.append((message.get("method"), message.get("params", {}), message.get("sessionId")))
                self.last_event_at = time.monotonic()
                self.on_event(message.get("method"), message.get("params", {}), message.get("sessionId"))

    def on_event(self, method, params, session):
        pass

    def call(self, method, params=None, session=None, timeout=None):
        """Sends a command and waits for its answer, at most timeout seconds or until the deadline."""
        ident = self.send(method, params, session)
        end = self.deadline if timeout is None else min(time.monotonic() + timeout, self.deadline)
        while ident not in self.replies:
            if self.closed:
                raise HarnessError(f"the browser closed the DevTools pipe (waiting for {method})")
            if time.monotonic() >= end:
                raise HarnessError(f"timed out waiting for {method}")
            self.pump(end - time.monotonic())
        reply = self.replies.pop(ident)
        if "error" in reply:
            raise HarnessError(f"{method} failed: {short(reply['error'].get('message', reply['error']))}")
        return reply.get("result", {})


class Checker(DevToolsPipe):
    def __init__(self, *args):
        super().__init__(*args)
        self.session = None
        self.dialogs = []

    def on_event(self, method, params, session):
        # alert()/confirm() would block the page until answered; answer at once and count it.
        if method == "Page.javascriptDialogOpening" and session == self.session:
            self.dialogs.append(params.get("type", "?") + ": " + params.get("message", ""))
            self.send("Page.handleJavaScriptDialog", {"accept": False}, session)
        # Anything auto-attached (worker, out-of-process frame) is recorded; let it run on.
        if method == "Target.attachedToTarget" and session == self.session:
            self.send("Runtime.runIfWaitingForDebugger", {}, params.get("sessionId"))


def png_size(path):
    data = Path(path).read_bytes()[:32]
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def walk_dom(node, problems, counts):
    """Looks for script elements, on* handler attributes and javascript: URLs; no JS involved."""
    if node.get("nodeType") == 3 and (node.get("nodeValue") or "").strip():
        counts["text"] += 1
    if node.get("nodeType") == 1:
        counts["elements"] += 1
        name = (node.get("localName") or node.get("nodeName") or "").lower()
        attributes = node.get("attributes", [])
        if name == "script":
            pairs = dict(zip(attributes[::2], attributes[1::2]))
            where = f" src={short(pairs['src'], 60)!r}" if "src" in pairs else ""
            problems.append(f"DOM has a <script{where}> element")
        for attr, value in zip(attributes[::2], attributes[1::2]):
            lowered = attr.lower()
            if lowered.startswith("on"):
                problems.append(f"DOM has an event-handler attribute <{name} {attr}={short(value, 40)!r}>")
            elif lowered in URL_ATTRIBUTES:
                squeezed = "".join(ch for ch in value if ord(ch) > 32).lower()
                if squeezed.startswith("javascript:"):
                    problems.append(f"DOM has a javascript: URL <{name} {attr}={short(value, 40)!r}>")
    for key in ("children", "shadowRoots", "pseudoElements"):
        for child in node.get(key, []) or []:
            walk_dom(child, problems, counts)
    for key in ("contentDocument", "templateContent"):
        if node.get(key):
            walk_dom(node[key], problems, counts)


def start_browser(browser, tmp):
    """Starts the browser in its own process group with the DevTools pipe on fds 3 and 4."""
    cmd_r, cmd_w = os.pipe()  # we write commands to cmd_w, the browser reads fd 3
    evt_r, evt_w = os.pipe()  # the browser writes fd 4, we read evt_r
    # Move all four ends above 10 so dup2 onto 3 and 4 in the child cannot clobber one of them.
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r, cmd_w, evt_r, evt_w)]
    for fd in (cmd_r, cmd_w, evt_r, evt_w):
        os.close(fd)
    cmd_r, cmd_w, evt_r, evt_w = high

    def child_setup():
        os.dup2(cmd_r, 3)  # dup2 clears close-on-exec on the new descriptor
        os.dup2(evt_w, 4)

    profile = os.path.join(tmp, "profile")
    os.makedirs(profile, exist_ok=True)
    args = [
        browser,
        "--headless",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--remote-debugging-pipe",
        f"--window-size={VIEWPORT_WIDTH},{VIEWPORT_HEIGHT}",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--mute-audio",
        # Nothing may leave the machine even if a page tries: every http(s) request, loopback
        # included, goes to a proxy on the discard port (connection refused), names resolve nowhere.
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    args.append("about:blank")
    log = open(os.path.join(tmp, "browser.log"), "wb")
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False,
        preexec_fn=child_setup, start_new_session=True,
    )
    log.close()
    os.close(cmd_r)
    os.close(evt_w)
    Path(tmp, "browser.pid").write_text(f"{proc.pid}\n")
    return proc, cmd_w, evt_r


def kill_browser(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def browser_log_tail(tmp):
    try:
        lines = [l for l in Path(tmp, "browser.log").read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return ""
    return f" (browser: {short(lines[-1], 200)})" if lines else ""


def check(args, tmp):
    """Returns (problems, console messages, errors among them, screenshot (width, height) or None).
    Raises HarnessError when the check cannot be carried out."""
    html = Path(args.html).resolve()
    doc_url = html.as_uri()
    deadline = time.monotonic() + args.timeout
    proc = None
    try:
        proc, to_browser, from_browser = start_browser(args.browser, tmp)
        cdp = Checker(to_browser, from_browser, deadline)
        try:
            cdp.call("Browser.getVersion", timeout=20)
        except HarnessError as error:
            raise HarnessError(f"the browser did not start: {error}{browser_log_tail(tmp)}")

        target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        cdp.session = session
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable",
                       "Debugger.enable", "Audits.enable", "DOM.enable"):
            cdp.call(method, session=session)
        cdp.call("Target.setAutoAttach",
                 {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True}, session)
        cdp.call("Emulation.setDeviceMetricsOverride",
                 {"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT, "deviceScaleFactor": 1, "mobile": False},
                 session)
        start = len(cdp.events)  # events from about:blank and the set-up are not the page's
        nav = cdp.call("Page.navigate", {"url": doc_url}, session)
        if nav.get("errorText"):
            raise HarnessError(f"navigation failed: {nav['errorText']}")
        main_frame = nav.get("frameId")

        loaded = False
        while not loaded:
            if cdp.remaining() <= 0:
                raise HarnessError("timed out waiting for the load event")
            if cdp.closed or proc.poll() is not None:
                raise HarnessError("the browser exited while loading the page" + browser_log_tail(tmp))
            cdp.pump(0.2)
            loaded = any(m == "Page.loadEventFired" and s == session for m, _, s in cdp.events[start:])
            if any(m == "Inspector.targetCrashed" and s == session for m, _, s in cdp.events[start:]):
                raise HarnessError("the page crashed")
        # Let late messages (image errors, timers, violation reports) arrive.
        while time.monotonic() - cdp.last_event_at < QUIET_SECONDS and cdp.remaining() > 5:
            cdp.pump(QUIET_SECONDS / 5)

        problems = []
        console_messages = 0
        errors = 0
        request_urls = []
        for method, params, sess in cdp.events[start:]:
            if sess != session:
                if sess is not None:  # an auto-attached worker or frame is doing things
                    problems.append(f"event {method} from an attached target")
                continue
            if method == "Runtime.consoleAPICalled":
                console_messages += 1
                level = params.get("type", "log")
                if level in ("error", "warning", "assert"):
                    errors += 1
                text = " ".join(str(a.get("value", a.get("description", a.get("type")))) for a in params.get("args", []))
                problems.append(f"console.{level}: {short(text)}")
            elif method == "Runtime.exceptionThrown":
                console_messages += 1
                errors += 1
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text", "")
                problems.append(f"uncaught exception: {short(text)}")
            elif method == "Log.entryAdded":
                console_messages += 1
                entry = params.get("entry", {})
                level = entry.get("level", "")
                if level in ("error", "warning"):
                    errors += 1
                    problems.append(f"console {level} ({entry.get('source', '?')}): {short(entry.get('text', ''))}")
            elif method in ("Debugger.scriptParsed", "Debugger.scriptFailedToParse"):
                where = params.get("url") or "inline"
                problems.append(f"JavaScript ran ({method.split('.')[1]}: {short(where, 80)},"
                                f" line {params.get('startLine', 0) + 1})")
            elif method == "Network.requestWillBeSent":
                url = params.get("request", {}).get("url", "")
                request_urls.append(url)
                if url.split("#")[0] != doc_url and not url.startswith("data:"):
                    problems.append(f"network request attempted: {short(url, 100)}")
            elif method == "Network.loadingFailed" and params.get("blockedReason"):
                problems.append(f"request blocked ({params['blockedReason']})")
            elif method == "Audits.issueAdded":
                issue = params.get("issue", {})
                code = issue.get("code", "?")
                if code in ("ContentSecurityPolicyIssue", "MixedContentIssue", "CorsIssue",
                            "BlockedByResponseIssue", "GenericIssue"):
                    details = issue.get("details", {}).get("contentSecurityPolicyIssueDetails", {})
                    more = details.get("violatedDirective") or details.get("contentSecurityPolicyViolationType") or ""
                    problems.append(f"issue {code}{': ' + more if more else ''}")
            elif method == "Page.frameAttached":
                problems.append(f"a frame was attached (frame {params.get('frameId')})")
            elif method == "Target.attachedToTarget":
                info = params.get("targetInfo", {})
                problems.append(f"a {info.get('type', '?')} target was started: {short(info.get('url', ''), 80)}")
            elif method == "Page.frameNavigated" and params.get("frame", {}).get("id") == main_frame:
                url = params["frame"].get("url", "")
                if url.split("#")[0] != doc_url:
                    problems.append(f"the page navigated away to {short(url, 80)}")
            elif method == "Inspector.targetCrashed":
                raise HarnessError("the page crashed")
        problems += [f"JavaScript dialog opened ({short(d, 60)})" for d in cdp.dialogs]
        if doc_url not in [u.split("#")[0] for u in request_urls]:
            problems.append("the file itself was never requested")

        # The DOM as parsed and as it stands after load, read without running any JavaScript.
        root = cdp.call("DOM.getDocument", {"depth": -1, "pierce": True}, session)["root"]
        counts = {"elements": 0, "text": 0}
        walk_dom(root, problems, counts)
        if counts["text"] == 0:
            problems.append("the page has no text at all (empty file?)")

        # Full-page screenshot at the report's layout width.
        metrics = cdp.call("Page.getLayoutMetrics", session=session)
        size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
        width = max(1, min(int(-(-size.get("width", VIEWPORT_WIDTH) // 1)), 4096))
        height = max(1, min(int(-(-size.get("height", VIEWPORT_HEIGHT) // 1)), MAX_SHOT_HEIGHT))
        shot = cdp.call("Page.captureScreenshot",
                        {"format": "png", "captureBeyondViewport": True, "fromSurface": True,
                         "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
                        session)
        out = Path(args.screenshot)
        partial = out.with_name(out.name + ".partial")
        partial.write_bytes(base64.b64decode(shot.get("data", "")))
        dims = png_size(partial)
        if dims is None or dims[0] == 0 or dims[1] == 0:
            partial.unlink(missing_ok=True)
            problems.append("the screenshot was not produced (no PNG data)")
        else:
            os.replace(partial, out)
        try:
            cdp.call("Browser.close", timeout=3)
        except HarnessError:
            pass
        return problems, console_messages, errors, dims
    finally:
        kill_browser(proc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--browser", required=True)
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--timeout", type=float, default=45.0)
    parser.add_argument("html")
    parser.add_argument("screenshot")
    try:
        args = parser.parse_args()
    except SystemExit as exit_:
        sys.exit(EXIT_USAGE if exit_.code else 0)
    name = args.html
    if not os.path.isfile(args.html) or not os.access(args.html, os.R_OK):
        print(f"report-check: {name}: no such readable file", file=sys.stderr)
        return EXIT_USAGE
    out_dir = os.path.dirname(os.path.abspath(args.screenshot))
    if not os.path.isdir(out_dir):
        print(f"report-check: {name}: screenshot directory {out_dir} does not exist", file=sys.stderr)
        return EXIT_USAGE
    # A screenshot left over from an earlier run must not pass for this one's.
    if os.path.isfile(args.screenshot):
        os.unlink(args.screenshot)

    Path(args.tmp, "driver.pid").write_text(f"{os.getpid()}\n")
    # SIGTERM (from timeout(1)) unwinds through the finally that kills the browser.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(HarnessError("terminated")))
    try:
        problems, messages, errors, dims = check(args, args.tmp)
    except HarnessError as error:
        print(f"report-check: {name}: check not carried out: {error}", file=sys.stderr)
        return EXIT_HARNESS
    except Exception as error:  # a bug or a malformed message must not pass for a failed page (1)
        print(f"report-check: {name}: check not carried out: internal error: {type(error).__name__}: "
              f"{short(error)}", file=sys.stderr)
        return EXIT_HARNESS
    if problems:
        unique = list(dict.fromkeys(problems))
        print(f"report-check: {name} FAILED ({len(unique)} problems): " + "; ".join(unique), file=sys.stderr)
        return EXIT_FAIL
    print(f"report-check: {name} ok ({messages} console messages, {errors} errors, "
          f"screenshot {args.screenshot} {dims[0]}x{dims[1]})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
