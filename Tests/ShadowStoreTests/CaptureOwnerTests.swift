import Foundation
import GRDB
import ShadowCore
import Testing

@testable import ShadowStore

/// A capture records the process writing it: one left running by a process that ended is marked
/// interrupted, and only such a capture (or a failed one) can be taken over to be continued.
@Suite struct CaptureOwnerTests {
    /// The pid of a process that has already ended.
    private func endedPid() throws -> Int64 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return Int64(process.processIdentifier)
    }

    @Test func thisProcessIsAliveAndAnEndedOneIsNot() throws {
        let me = try #require(ProcessIdentity.current)
        #expect(me.pid == Int64(getpid()))
        #expect(!ProcessIdentity.hasEnded(pid: me.pid, start: me.start))
        #expect(ProcessIdentity.hasEnded(pid: me.pid, start: me.start + "0"), "same pid, other start: a reused pid")
        #expect(ProcessIdentity.hasEnded(pid: try endedPid(), start: me.start))
        #expect(!ProcessIdentity.hasEnded(pid: nil, start: nil), "nothing recorded: cannot tell, so not ended")
        let bootID = me.start.prefix { $0 != "/" }
        #expect(ProcessIdentity.hasEnded(pid: me.pid, start: "00000000-0000-0000-0000-000000000000/pid:[1]/1"), "an earlier boot")
        #expect(!ProcessIdentity.hasEnded(pid: me.pid, start: bootID + "/pid:[1]/1"), "another pid namespace: cannot tell")
    }

    @Test func aCaptureWhoseProcessEndedIsMarkedInterruptedAndCanBeReopened() throws {
        try withTemporaryDirectory { dir in
            let db = try ShadowDatabase(path: dir + "/t.db", mode: .createIfMissing)
            let killed = try db.beginCapture(sourceKind: "pcap", source: "x.pcap", filter: nil, resumeKey: "{}")
            let live = try db.beginCapture(sourceKind: "pcap", source: "y.pcap", filter: nil)
            let pid = try endedPid()
            try db.pool.write { try $0.execute(sql: "UPDATE captures SET pid = ? WHERE id = ?", arguments: [pid, killed]) }

            try db.markAbandonedCaptures()
            let listed = try db.captures()
            #expect(listed.map(\.status) == ["interrupted", "running"])
            #expect(listed[0].error?.contains("pid \(pid)") == true)

            #expect(throws: ShadowError.invalidArgument(flag: "--resume", detail: "capture \(live) of y.pcap in \(db.path) is still running (pid \(getpid()))")) {
                try db.reopenCapture(sourceKind: "pcap", source: "y.pcap") { _ in }
            }
            #expect(throws: ShadowError.invalidArgument(flag: "--resume", detail: "\(db.path) holds no capture of z.pcap to resume")) {
                try db.reopenCapture(sourceKind: "pcap", source: "z.pcap") { _ in }
            }
            struct Refused: Error {}
            #expect(throws: Refused.self) { try db.reopenCapture(sourceKind: "pcap", source: "x.pcap") { _ in throw Refused() } }
            #expect(try db.captures()[0].status == "interrupted", "a refused check changes nothing")

            let reopened = try db.reopenCapture(sourceKind: "pcap", source: "x.pcap") { #expect($0.resumeKey == "{}") }
            #expect(reopened.id == killed && reopened.status == "interrupted")
            let row = try db.pool.read { try Row.fetchOne($0, sql: "SELECT status, error, pid FROM captures WHERE id = ?", arguments: [killed]) }
            #expect(row?["status"] == "running" && row?["error"] == nil as String? && row?["pid"] == Int64(getpid()))

            try db.finishCapture(id: killed, counters: Counters(), linkType: nil, firstPacketNs: nil, lastPacketNs: nil, error: nil)
            #expect(throws: ShadowError.invalidArgument(flag: "--resume", detail: "capture \(killed) of x.pcap in \(db.path) is complete; nothing to resume")) {
                try db.reopenCapture(sourceKind: "pcap", source: "x.pcap") { _ in }
            }
        }
    }

    @Test func aRunWhoseProcessEndedIsListedInterruptedAndALiveOneIsNotReopened() throws {
        try withTemporaryDirectory { dir in
            let db = try ShadowDatabase(path: dir + "/t.db", mode: .createIfMissing)
            let killed = try db.createRun(name: "killed", captureID: nil, config: "{}")
            let live = try db.createRun(name: "live", captureID: nil, config: "{}")
            let ended = try endedPid()
            let sleeper = Process()
            sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
            sleeper.arguments = ["30"]
            try sleeper.run()
            // SIGKILL: the test runner's children inherit its blocked signals, SIGTERM included.
            defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
            let other = try #require(ProcessIdentity.of(pid: Int64(sleeper.processIdentifier)))
            try db.pool.write { db in
                try db.execute(sql: "UPDATE runs SET pid = ? WHERE id = ?", arguments: [ended, killed.id])
                try db.execute(sql: "UPDATE runs SET pid = ?, process_start = ? WHERE id = ?", arguments: [other.pid, other.start, live.id])
            }
            #expect(try db.runs().map(\.status) == ["interrupted", "running"])

            #expect(throws: ShadowError.invalidArgument(
                flag: "--resume", detail: "run 'live' in \(db.path) is still being replayed by pid \(other.pid); stop that replay first")) {
                try db.reopenRun(id: live.id)
            }
            #expect(try db.run(named: "live").status == "running", "a refused reopen changes nothing")

            try db.reopenRun(id: killed.id)
            let row = try db.pool.read { try Row.fetchOne($0, sql: "SELECT status, pid FROM runs WHERE id = ?", arguments: [killed.id]) }
            #expect(row?["status"] == "running" && row?["pid"] == Int64(getpid()))
            #expect(try db.run(named: "killed").status == "running")
        }
    }
}
