import Foundation
import Testing

/// Paths and processes for tests that drive the real binaries.
enum Harness {
    /// The repository root, found from this file's path.
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Where `swift build` put the executables: beside the test bundle, or .build/debug.
    static let binDirectory: String = {
        var candidates: [String] = []
        if let executable = Bundle.main.executableURL { candidates.append(executable.deletingLastPathComponent().path) }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().path)
        candidates.append(root + "/.build/debug")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/shadowdiff") } ?? root + "/.build/debug"
    }()

    static var shadowdiff: String { binDirectory + "/shadowdiff" }
    static var bidder: String { binDirectory + "/fixture-bidder" }
    static var grpcBidder: String { binDirectory + "/fixture-grpc-bidder" }

    /// The `python3` first on PATH, where `make python-deps` installs grpcio (the Debian
    /// /usr/bin/python3 may lack it); /usr/bin/python3 when PATH has none.
    static let python3: String = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").map { $0 + "/python3" }
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/python3"
    }()

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// A process for `executable` that starts with no signals blocked.
    ///
    /// The test runner's threads block most signals and a spawned child inherits that mask, so
    /// SIGINT and SIGTERM would never reach tcpdump or a bidder; a tiny exec wrapper clears it.
    static func process(_ executable: String, _ arguments: [String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
            executable,
        ] + arguments
        return process
    }

    /// Starts `process` (its stdout discarded) and reads its stderr until `banner` appears or the
    /// stream ends; returns what it read. The caller acts the moment the banner is out.
    static func start(_ process: Process, untilStderrContains banner: String) throws -> String {
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var read = Data()
        while !String(decoding: read, as: UTF8.self).contains(banner) {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            read += chunk
        }
        return String(decoding: read, as: UTF8.self)
    }

    /// Runs an executable to completion, at most `timeout` seconds; `whileRunning` is called with
    /// its pid every 10 ms until it exits.
    static func run(
        _ executable: String, _ arguments: [String], timeout: TimeInterval = 120, whileRunning: ((pid_t) -> Void)? = nil
    ) throws -> Output {
        let process = process(executable, arguments)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        let outData = Locked(Data()), errData = Locked(Data())
        let group = DispatchGroup()
        for (pipe, sink) in [(out, outData), (err, errData)] {
            group.enter()
            DispatchQueue.global().async {
                sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
                group.leave()
            }
        }
        if !reap(process, within: deadline.timeIntervalSinceNow, whileRunning: whileRunning) {
            Issue.record("\(executable) \(arguments) ran longer than \(timeout) s")
        }
        group.wait()
        return Output(status: process.terminationStatus, stdout: String(decoding: outData.get(), as: UTF8.self),
                      stderr: String(decoding: errData.get(), as: UTF8.self))
    }

    /// Waits up to `timeout` seconds for `process` to exit, SIGKILLs it if it did not, and reaps it.
    /// Returns whether it exited by itself.
    @discardableResult
    static func reap(_ process: Process, within timeout: TimeInterval, whileRunning: ((pid_t) -> Void)? = nil) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            whileRunning?(process.processIdentifier)
            usleep(10_000)
        }
        let exited = !process.isRunning
        if !exited { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return exited
    }

    /// The peak resident set size of a running process (VmHWM in /proc/PID/status), in KiB.
    static func peakRSSKiB(of pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        return line.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap { Int($0) }
    }

    static func shadowdiff(_ arguments: String...) throws -> Output {
        try run(shadowdiff, arguments)
    }

    /// captures/sample.pcap's packets `rounds` times over, each round's connections on other
    /// client ports: a real pcap file of `rounds` × 104 exchanges, made in memory.
    static func repeatedSample(rounds: Int) throws -> Data {
        let sampleBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/captures/sample.pcap")))
        var big = Data(sampleBytes.prefix(24))
        for round in 0..<rounds {
            var offset = 24
            while offset + 16 <= sampleBytes.count {
                let caplen = Int(sampleBytes[offset + 8]) | Int(sampleBytes[offset + 9]) << 8 | Int(sampleBytes[offset + 10]) << 16
                var record = Array(sampleBytes[offset..<min(sampleBytes.count, offset + 16 + caplen)])
                let tcp = 16 + 14 + Int(record[16 + 14] & 0x0F) * 4
                if record.count >= tcp + 4 {
                    let sport = Int(record[tcp]) << 8 | Int(record[tcp + 1])
                    let dport = Int(record[tcp + 2]) << 8 | Int(record[tcp + 3])
                    let at = sport > dport ? tcp : tcp + 2
                    let port = (max(sport, dport) + round) & 0xFFFF
                    record[at] = UInt8(port >> 8)
                    record[at + 1] = UInt8(port & 0xFF)
                }
                big.append(contentsOf: record)
                offset += 16 + caplen
            }
        }
        return big
    }

    /// A fresh temporary directory, removed after `body`.
    static func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shadowdiff-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try await body(dir)
    }
}

/// A mutable box shared with a reader thread.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) {
        self.value = value
    }

    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
}

/// A fixture server on a free loopback port (the bidder, or fixtures/bad-upstream.py), stopped by `stop()`.
final class RunningBidder {
    let process: Process
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }

    convenience init(build: String, arguments: [String] = []) throws {
        try self.init(executable: Harness.bidder, arguments: ["--build", build, "--port", "0"] + arguments)
    }

    /// fixtures/bad-upstream.py: misbehaves by path (/garbage, /reset, /stall, /midway, /trickle,
    /// /big, ..., /ok; see the script). `arguments`: e.g. `--stop-listening-after 1`.
    static func badUpstream(_ arguments: [String] = []) throws -> RunningBidder {
        try RunningBidder(executable: "/usr/bin/python3", arguments: [Harness.root + "/fixtures/bad-upstream.py"] + arguments)
    }

    /// fixtures/threading_bidder.py: an OpenRTB bidder on Python's ThreadingHTTPServer (listen
    /// backlog 5, head and body in two writes: about 40 ms per answer). `arguments`: e.g.
    /// `--timeout-percent 1`.
    static func threadingBidder(_ arguments: [String] = []) throws -> RunningBidder {
        try RunningBidder(executable: "/usr/bin/python3", arguments: [Harness.root + "/fixtures/threading_bidder.py"] + arguments)
    }

    /// Starts `executable`, which must print `listening on HOST:PORT` as its first line.
    init(executable: String, arguments: [String]) throws {
        process = Harness.process(executable, arguments)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        let handle = out.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening on "), let port = text.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            process.terminate()
            throw BidderError.didNotStart(text)
        }
        self.port = port
    }

    /// Stops the bidder: SIGTERM, then SIGKILL after two seconds.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        Harness.reap(process, within: 2)
    }

    enum BidderError: Error { case didNotStart(String) }
}
