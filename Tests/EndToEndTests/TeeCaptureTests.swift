import Foundation
import ShadowTee
import Testing

/// `shadowdiff capture proxy` and `capture mirror` with real nginx, wrk, curl and misbehaving upstreams.
@Suite(.serialized) struct TeeCaptureTests {
    typealias SQL = LiveInterfaceCaptureTests

    /// Starts `capture proxy|mirror` on a free port and returns it with that port.
    static func startTee(_ arguments: [String]) throws -> (RunningLiveCapture, Int) {
        let tee = try RunningLiveCapture(arguments + ["--listen", "127.0.0.1:0"], waitFor: "listening on")
        let banner = tee.stderr
        guard let range = banner.range(of: #"listening on 127\.0\.0\.1:(\d+)"#, options: .regularExpression),
              let port = Int(banner[range].split(separator: ":").last ?? "")
        else {
            _ = tee.stop(SIGKILL)
            throw TeeTestError.didNotStart(banner)
        }
        return (tee, port)
    }

    /// `capture proxy` in front of fixtures/bad-upstream.py, recording into `db`.
    static func proxyToBadUpstream(db: String, _ flags: [String] = []) throws -> (RunningBidder, RunningLiveCapture, Int) {
        let upstream = try RunningBidder.badUpstream()
        do {
            let (proxy, port) = try startTee(["proxy", "--upstream", upstream.url, "--db", db] + flags)
            return (upstream, proxy, port)
        } catch {
            upstream.stop()
            throw error
        }
    }

    /// One curl process sending every request in turn on kept-alive connections; returns the status codes.
    static func curl(_ requests: [(url: String, body: String?, headers: [String])], in dir: String) throws -> [String] {
        var config = ""
        for request in requests {
            config += "url = \"\(request.url)\"\noutput = \"/dev/null\"\nwrite-out = \"%{http_code}\\n\"\nmax-time = 10\n"
            if let body = request.body { config += "data-binary = \"\(body)\"\n" }
            for header in request.headers { config += "header = \"\(header)\"\n" }
            config += "next\n"
        }
        let path = dir + "/curl-\(UUID().uuidString).cfg"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try Harness.run("/usr/bin/curl", ["-s", "-K", path])
        return result.stdout.split(separator: "\n").map(String.init)
    }

    static func wrk(_ url: String, connections: Int, seconds: Int) throws -> (requests: Int, output: String) {
        let load = try Harness.run(LiveInterfaceCaptureTests.wrk, [
            "-t1", "-c\(connections)", "-d\(seconds)s", "-s", Harness.root + "/bench/lib/openrtb-post.lua", url,
        ])
        let line = load.stdout.split(separator: "\n").first { $0.contains("requests in") } ?? ""
        return (Int(line.split(separator: " ").first ?? "") ?? -1, load.stdout)
    }

    @Test func nginxMirrorsEveryRequestToTheSinkWithItsOriginalURIAndBody() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/mirror.db"
            let (sink, sinkPort) = try Self.startTee(["mirror", "--db", db])
            defer { _ = sink.stop(SIGKILL) }
            // Production is a location of the same nginx, reached through proxy_pass; `mirror` copies
            // each request (with its body) to the sink, passing the original URI in X-Original-URI.
            let nginx = try RunningNginx(
                directory: dir + "/nginx",
                extraHTTPConfig: "upstream sink { server 127.0.0.1:\(sinkPort); keepalive 16; }",
                locationConfig: """
                    mirror /mirror;
                    mirror_request_body on;
                    proxy_pass http://127.0.0.1:$server_port/_production;
                    }
                    location = /_production {
                        default_type application/json;
                        return 200 '{"id":"prod"}';
                    }
                    location = /mirror {
                        internal;
                        proxy_pass http://sink$request_uri;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header X-Original-URI $request_uri;
                    """)
            defer { nginx.stop() }
            let n = 300
            let codes = try Self.curl((0..<n).map { i in
                (url: nginx.url + "/openrtb2/auction?n=\(i)", body: "{\\\"id\\\":\\\"request-\(i)\\\"}", headers: ["Content-Type: application/json"])
            }, in: dir)
            #expect(codes == Array(repeating: "200", count: n), "production answered every request through nginx")
            try await Task.sleep(for: .milliseconds(300))
            #expect(sink.stop(SIGTERM) == 0, "\(sink.stderr)")
            #expect(sink.stdout.contains("exchanges stored \(n)"), "\(sink.stdout)")
            #expect(try SQL.sql(db, "SELECT count(*), count(DISTINCT target), sum(prod_status IS NULL) FROM exchanges") == "\(n)|\(n)|\(n)")
            let mismatched = try SQL.sql(db, """
                SELECT count(*) FROM exchanges e JOIN exchange_bodies b ON b.exchange_id = e.id
                WHERE CAST(b.request_body AS TEXT) != '{"id":"request-' || substr(e.target, length('/openrtb2/auction?n=') + 1) || '"}'
                   OR b.request_headers NOT LIKE '%X-Original-URI: ' || e.target || '%'
                """)
            #expect(mismatched == "0", "every body and X-Original-URI header matches its request's original URI")
            #expect(try SQL.counter(db, "original_uri") == n)
            #expect(try SQL.sql(db, "SELECT source_kind, status FROM captures") == "mirror|complete")
        }
    }

    @Test func wrkThroughTheProxyRecordsEveryRequestWithItsResponse() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let bidder = try RunningBidder(build: "baseline")
            defer { bidder.stop() }
            let db = dir + "/proxy.db"
            let (proxy, port) = try Self.startTee(["proxy", "--upstream", bidder.url, "--db", db])
            defer { _ = proxy.stop(SIGKILL) }
            let load = try Self.wrk("http://127.0.0.1:\(port)/openrtb2/auction", connections: 8, seconds: 3)
            #expect(!load.output.contains("Non-2xx") && !load.output.contains("Socket errors"), "\(load.output)")
            try #require(load.requests > 500, "wrk sent too little to test: \(load.output)")
            #expect(proxy.stop(SIGTERM) == 0, "\(proxy.stderr)")
            let stored = Int(try SQL.sql(db, "SELECT count(*) FROM exchanges")) ?? -1
            // wrk counts the requests completed within its run; up to one per connection may still be in flight then.
            #expect(stored >= load.requests && stored <= load.requests + 8, "stored \(stored), wrk completed \(load.requests)")
            #expect(try SQL.counter(db, "responses") == stored)
            #expect(try SQL.counter(db, "recorded") == stored)
            #expect(try SQL.sql(db, """
                SELECT count(*) FROM exchanges e JOIN exchange_bodies b ON b.exchange_id = e.id
                WHERE e.prod_status = 200 AND e.prod_latency_ns > 0 AND length(b.prod_body) > 0
                  AND length(b.request_body) = e.request_bytes AND e.request_bytes > 100 AND e.prod_error IS NULL
                """) == "\(stored)")
            #expect(proxy.stdout.contains("not recorded: nothing"), "\(proxy.stdout)")
        }
    }

    @Test func aStalledStoreNeverHoldsUpProductionAndItsDropsAreCounted() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let bidder = try RunningBidder(build: "baseline")
            defer { bidder.stop() }
            let db = dir + "/stalled.db"
            let (proxy, port) = try Self.startTee(["proxy", "--upstream", bidder.url, "--db", db, "--queue-size", "1"])
            defer { _ = proxy.stop(SIGKILL) }
            // Another process holds SQLite's write lock for 4 s: the proxy's writer waits on it
            // (within its 10 s busy timeout) and its 1 MiB queue fills.
            let locker = Harness.process("/usr/bin/python3", ["-c", """
                import sqlite3, sys, time
                db = sqlite3.connect(sys.argv[1], isolation_level=None)
                db.execute("BEGIN IMMEDIATE")
                print("locked", flush=True)
                time.sleep(4)
                db.execute("COMMIT")
                """, db])
            let lockerOut = Pipe()
            locker.standardOutput = lockerOut
            try locker.run()
            _ = lockerOut.fileHandleForReading.availableData
            let load = try Self.wrk("http://127.0.0.1:\(port)/openrtb2/auction", connections: 8, seconds: 2)
            #expect(locker.isRunning, "the lock was held during the whole load")
            Harness.reap(locker, within: 10)
            #expect(!load.output.contains("Non-2xx") && !load.output.contains("Socket errors"), "\(load.output)")
            try #require(load.requests > 1000, "production must keep answering while the store is stalled: \(load.output)")
            #expect(proxy.stop(SIGTERM) == 0, "\(proxy.stderr)")
            let stored = Int(try SQL.sql(db, "SELECT count(*) FROM exchanges")) ?? -1
            let dropped = try SQL.counter(db, "record_queue_full")
            #expect(dropped > 0, "the queue filled: \(proxy.stdout)")
            #expect(stored > 0)
            #expect(stored + dropped == (try SQL.counter(db, "responses")), "every response is either stored or counted")
            #expect(proxy.stdout.contains("record_queue_full"), "\(proxy.stdout)")
        }
    }

    @Test func upstreamFailuresAnswer502Or504ForThatRequestOnlyAndAreRecorded() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/failures.db"
            let (upstream, proxy, port) = try Self.proxyToBadUpstream(db: db, ["--upstream-timeout", "0.5"])
            defer { _ = proxy.stop(SIGKILL); upstream.stop() }
            let base = "http://127.0.0.1:\(port)"
            let paths = ["/ok", "/garbage", "/ok", "/reset", "/ok", "/stall", "/ok", "/midway", "/ok"]
            let codes = try Self.curl(paths.map { (url: base + $0, body: "x", headers: []) }, in: dir)
            // /midway's 200 head was already forwarded when the upstream failed: curl sees 200 and a cut body.
            #expect(codes == ["200", "502", "200", "502", "200", "504", "200", "200", "200"], "\(codes)")
            #expect(proxy.stop(SIGTERM) == 0, "\(proxy.stderr)")
            let stored = try SQL.sql(db, "SELECT group_concat(target || '=' || prod_status || ':' || coalesce(prod_error, '-'), ' ') FROM exchanges ORDER BY id")
            #expect(stored == "/ok=200:- /garbage=502:upstream_malformed /ok=200:- /reset=502:upstream_closed /ok=200:- /stall=504:upstream_timeout /ok=200:- /midway=200:upstream_closed /ok=200:-")
            #expect(try SQL.counter(db, "upstream_errors") == 2)
            #expect(try SQL.counter(db, "upstream_timeouts") == 1)
            #expect(try SQL.counter(db, "upstream_failed_midway") == 1)

            let refused = try Self.startTee(["proxy", "--upstream", "http://127.0.0.1:1", "--db", db])
            defer { _ = refused.0.stop(SIGKILL) }
            #expect(try Self.curl([(url: "http://127.0.0.1:\(refused.1)/x", body: nil, headers: [])], in: dir) == ["502"])
            #expect(refused.0.stop(SIGTERM) == 0)
            #expect(try SQL.sql(db, "SELECT prod_status, prod_error FROM exchanges WHERE capture_id = 2") == "502|upstream_refused")
        }
    }

    @Test func badClientsGet400Or413Or431AndAreCountedWhileOthersAreServed() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/clients.db"
            let (upstream, proxy, port) = try Self.proxyToBadUpstream(db: db, ["--max-body-bytes", "1000", "--max-header-bytes", "2000"])
            defer { _ = proxy.stop(SIGKILL); upstream.stop() }
            let answers = try Harness.run("/usr/bin/python3", ["-c", """
                import socket, sys
                def ask(data):
                    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
                    s.sendall(data)
                    reply = b""
                    while b"\\r\\n\\r\\n" not in reply:
                        chunk = s.recv(4096)
                        if not chunk: break
                        reply += chunk
                    s.close()
                    print(reply.split(b"\\r\\n")[0].decode() if reply else "closed")
                ask(b"THIS IS NOT HTTP\\r\\n\\r\\n")
                ask(b"GET /ok HTTP/1.1\\r\\nHost: x\\r\\nX-Big: " + b"a" * 5000 + b"\\r\\n\\r\\n")
                ask(b"POST /ok HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 5000\\r\\n\\r\\n" + b"b" * 5000)
                ask(b"GET /ok HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                """, String(port)]).stdout
            #expect(answers.split(separator: "\n") == [
                "HTTP/1.1 400 Bad Request", "HTTP/1.1 431 Request Header Fields Too Large", "HTTP/1.1 413 Payload Too Large",
                "HTTP/1.1 200 OK",
            ], "\(answers)")
            #expect(proxy.stop(SIGTERM) == 0, "\(proxy.stderr)")
            #expect(try SQL.counter(db, "malformed_request") == 1)
            #expect(try SQL.counter(db, "oversized_header") == 1)
            #expect(try SQL.counter(db, "oversized_body") == 1)
            #expect(try SQL.sql(db, "SELECT count(*), min(prod_status) FROM exchanges") == "1|200")
        }
    }

    @Test func chunkedMessagesPassByteForByteAndAreStoredDeChunked() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/chunked.db"
            let (upstream, proxy, port) = try Self.proxyToBadUpstream(db: db)
            defer { _ = proxy.stop(SIGKILL); upstream.stop() }
            let replies = try Harness.run("/usr/bin/python3", ["-c", """
                import socket, sys
                s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
                s.sendall(b"POST /chunked HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
                          b"3\\r\\nabc\\r\\n2;e=1\\r\\nde\\r\\n0\\r\\n\\r\\n")
                data = b""
                while not data.endswith(b"0\\r\\nX-T: 1\\r\\n\\r\\n"):
                    chunk = s.recv(65536)
                    if not chunk: break
                    data += chunk
                print(repr(data))
                # A request whose end the proxy and the upstream could read differently is refused.
                s.sendall(b"POST /ok HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 4\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n")
                print(s.recv(65536).split(b"\\r\\n")[0].decode())
                """, String(port)]).stdout
            let lines = replies.split(separator: "\n")
            #expect(lines.first == #"b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{"a"\r\n3\r\n:1}\r\n0\r\nX-T: 1\r\n\r\n'"#, "\(replies)")
            #expect(lines.last == "HTTP/1.1 400 Bad Request")
            #expect(proxy.stop(SIGTERM) == 0, "\(proxy.stderr)")
            #expect(try SQL.sql(db, "SELECT target, CAST(b.request_body AS TEXT), prod_status, CAST(b.prod_body AS TEXT) FROM exchanges JOIN exchange_bodies b ON b.exchange_id = exchanges.id") == #"/chunked|abcde|200|{"a":1}"#)
            #expect(try SQL.counter(db, "malformed_request") == 1)
        }
    }

    @Test func pipelinedRequestsAreForwardedOneByOneAndAnsweredInOrder() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/pipelined.db"
            let (upstream, proxy, port) = try Self.proxyToBadUpstream(db: db)
            defer { _ = proxy.stop(SIGKILL); upstream.stop() }
            let replies = try Harness.run("/usr/bin/python3", ["-c", """
                import socket, sys
                s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
                s.sendall(b"POST /slow?1 HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 1\\r\\n\\r\\naGET /ok?2 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
                          b"GET /ok?3 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk: break
                    data += chunk
                print(data.count(b"HTTP/1.1 200 OK"))
                """, String(port)]).stdout
            #expect(replies.trimmingCharacters(in: .whitespacesAndNewlines) == "3", "\(replies)")
            #expect(proxy.stop(SIGTERM) == 0, "\(proxy.stderr)")
            #expect(try SQL.sql(db, "SELECT group_concat(target, ' ') FROM exchanges") == "/slow?1 /ok?2 /ok?3")
        }
    }

    @Test func stoppingDrainsTheRequestInFlightAndRecordsIt() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/drain.db"
            let (upstream, proxy, port) = try Self.proxyToBadUpstream(db: db)
            defer { _ = proxy.stop(SIGKILL); upstream.stop() }
            let client = Harness.process("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/slow"])
            let out = Pipe()
            client.standardOutput = out
            try client.run()
            try await Task.sleep(for: .milliseconds(300))
            kill(proxy.process.processIdentifier, SIGTERM)
            #expect(Harness.reap(client, within: 10))
            #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "200",
                    "the slow request in flight at SIGTERM still got production's answer")
            #expect(proxy.wait(timeout: 15) == 0, "\(proxy.stderr)")
            #expect(try SQL.sql(db, "SELECT target, prod_status FROM exchanges") == "/slow|200")
            #expect(try SQL.sql(db, "SELECT status FROM captures") == "complete")
        }
    }

    @Test func aBusyPortOrABadUpstreamURLIsOneLineAndExit2() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let (sink, port) = try Self.startTee(["mirror", "--db", dir + "/first.db"])
            defer { _ = sink.stop(SIGKILL) }
            let busy = try Harness.shadowdiff("capture", "mirror", "--listen", "127.0.0.1:\(port)", "--db", dir + "/second.db")
            #expect(busy.status == 2)
            #expect(busy.stderr.contains("--listen 127.0.0.1:\(port): cannot listen"), "\(busy.stderr)")
            #expect(try SQL.sql(dir + "/second.db", "SELECT status FROM captures") == "failed", "the attempt is kept, marked failed")
            let https = try Harness.shadowdiff("capture", "proxy", "--listen", "0", "--upstream", "https://x", "--db", dir + "/third.db")
            #expect(https.status == 2 && https.stderr.contains("--upstream https://x"), "\(https.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/third.db"), "bad flags touch no database")
        }
    }

    @Test func sampleFiltersAndRedactionDecideWhatIsRecorded() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/sampled.db"
            let (sink, port) = try Self.startTee([
                "mirror", "--db", db, "--sample", "50", "--sample-key", "header:X-Request-ID",
                "--exclude-path-prefix", "/health", "--redact-header", "Authorization",
            ])
            defer { _ = sink.stop(SIGKILL) }
            let n = 400
            var requests = (0..<n).map { i in
                (url: "http://127.0.0.1:\(port)/openrtb2/auction", body: Optional("b\(i)"),
                 headers: ["X-Request-ID: id-\(i)", "Authorization: Bearer secret-\(i)"])
            }
            requests.append((url: "http://127.0.0.1:\(port)/health", body: nil, headers: ["X-Request-ID: id-0"]))
            let codes = try Self.curl(requests, in: dir)
            #expect(codes == Array(repeating: "204", count: n + 1))
            #expect(sink.stop(SIGTERM) == 0, "\(sink.stderr)")
            var policy = RecordingPolicy()
            policy.samplePercent = 50
            let expected = (0..<n).filter { policy.samples(key: "id-\($0)") }.map { "id-\($0)" }
            let stored = try SQL.sql(db, """
                SELECT substr(rest, 1, instr(rest, char(13)) - 1) FROM
                    (SELECT exchange_id, substr(request_headers, instr(request_headers, 'X-Request-ID: ') + 14) AS rest FROM exchange_bodies)
                ORDER BY exchange_id
                """).split(separator: "\n").map(String.init)
            #expect(stored == expected, "exactly the requests whose key hashes into the sample")
            #expect(expected.count > n * 4 / 10 && expected.count < n * 6 / 10)
            #expect(try SQL.counter(db, "not_sampled") == n - expected.count)
            #expect(try SQL.counter(db, "filtered_out") == 1)
            #expect(try SQL.sql(db, "SELECT count(*) FROM exchange_bodies WHERE request_headers LIKE '%secret%'") == "0")
            #expect(try SQL.counter(db, "redacted_headers") == expected.count)
        }
    }

    enum TeeTestError: Error { case didNotStart(String) }
}
