import Foundation
import Testing

/// A real nginx on a loopback port, answering every request with a small OpenRTB bid and logging
/// one access-log line per request (the exact count of what it answered).
final class RunningNginx {
    let process: Process
    let port: Int
    let directory: String
    var url: String { "http://127.0.0.1:\(port)" }
    var accessLog: String { directory + "/access.log" }

    /// `extraServerConfig` is pasted into the `server` block (e.g. a `mirror` location).
    init(directory: String, extraHTTPConfig: String = "", locationConfig: String? = nil) throws {
        let nginx = try #require(["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                 "nginx is not installed; `make test` installs it")
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
        var lastError = ""
        for _ in 0..<20 {
            let port = Int.random(in: 20_000..<60_000)
            let location = locationConfig ?? """
                default_type application/json;
                return 200 '{"id":"e2e","seatbid":[{"bid":[{"id":"b1","impid":"1","price":1.5,"crid":"c1"}]}],"cur":"USD"}';
                """
            let config = """
                worker_processes 1;
                daemon off;
                master_process on;
                pid \(directory)/nginx.pid;
                error_log \(directory)/error.log warn;
                events { worker_connections 1024; }
                http {
                    access_log \(directory)/access.log;
                    client_body_temp_path \(directory)/tmp;
                    proxy_temp_path \(directory)/tmp;
                    fastcgi_temp_path \(directory)/tmp;
                    uwsgi_temp_path \(directory)/tmp;
                    scgi_temp_path \(directory)/tmp;
                    keepalive_requests 1000000;
                    \(extraHTTPConfig)
                    server {
                        listen 127.0.0.1:\(port);
                        location / {
                            \(location)
                        }
                    }
                }
                """
            try config.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
            let process = Harness.process(nginx, ["-c", directory + "/nginx.conf", "-e", directory + "/error.log"])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline {
                if Self.accepts(port: port) {
                    self.process = process
                    self.port = port
                    return
                }
                usleep(20_000)
            }
            Harness.reap(process, within: 0)
            lastError = (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? ""
        }
        throw NginxError.didNotStart(lastError)
    }

    /// Requests nginx has logged so far.
    func loggedRequests() throws -> Int {
        let log = try String(contentsOfFile: accessLog, encoding: .utf8)
        return log.split(separator: "\n").count
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGQUIT)
        Harness.reap(process, within: 3)
    }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    enum NginxError: Error { case didNotStart(String) }
}

/// `shadowdiff capture ...` (or another command) running in the background until stopped or done.
final class RunningLiveCapture {
    let process: Process
    private let out = Locked(Data())
    private let err = Locked(Data())
    private let readers = DispatchGroup()

    /// Starts a file import in the background (returns at once).
    convenience init(pcapImportOf path: String, db: String) throws {
        try self.init(["--pcap", path, "--db", db], waitFor: nil)
    }

    /// Starts the capture and returns once it printed `waitFor` on stderr (or ended, or 10 s passed).
    convenience init(_ arguments: [String], waitFor banner: String? = "capturing on") throws {
        try self.init(command: ["capture"] + arguments, waitFor: banner)
    }

    /// Starts any shadowdiff command (`replay ...`) the same way.
    init(command arguments: [String], waitFor banner: String?) throws {
        process = Harness.process(Harness.shadowdiff, arguments)
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        try process.run()
        for (pipe, sink) in [(outPipe, out), (errPipe, err)] {
            readers.enter()
            DispatchQueue.global().async { [readers] in
                let handle = pipe.fileHandleForReading
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    sink.set(sink.get() + chunk)
                }
                readers.leave()
            }
        }
        guard let banner else { return }
        let deadline = Date().addingTimeInterval(10)
        while !stderr.contains(banner) && process.isRunning && Date() < deadline { usleep(10_000) }
    }

    var stdout: String { String(decoding: out.get(), as: UTF8.self) }
    var stderr: String { String(decoding: err.get(), as: UTF8.self) }

    /// Sends `signal` (if still running) and waits up to `timeout` seconds for the exit status.
    func stop(_ signal: Int32 = SIGINT, timeout: TimeInterval = 30) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        return wait(timeout: timeout)
    }

    /// Waits for the process to end by itself; SIGKILL (and a recorded issue) after `timeout`.
    func wait(timeout: TimeInterval) -> Int32 {
        if !Harness.reap(process, within: timeout) { Issue.record("capture did not stop within \(timeout) s") }
        readers.wait()
        return process.terminationStatus
    }
}
