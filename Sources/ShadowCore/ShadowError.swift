/// Errors a user can act on; `description` is one line naming the file, URL or flag at fault.
public enum ShadowError: Error, Sendable, CustomStringConvertible, Equatable {
    case notACapture(path: String, detail: String)
    case truncatedCapture(path: String, packet: Int64, offset: Int64, detail: String)
    case fileNotFound(path: String)
    case notADatabase(path: String, detail: String)
    case newerSchema(path: String, found: Int, supported: Int)
    case unknownRun(path: String, run: String)
    case noCaptures(path: String)
    case badURL(flag: String, url: String, detail: String)
    case targetUnreachable(url: String, detail: String)
    case invalidArgument(flag: String, detail: String)
    case io(path: String, detail: String)
    /// A write to the database failed; transactions committed before it are kept.
    case storeWrite(path: String, detail: String)
    case captureDevice(interface: String, detail: String)
    case interrupted(source: String)
    case targetDown(url: String, failures: Int, detail: String)

    /// The process exit code for this error: 3 when a target went down during a run, else 2.
    public var exitCode: Int32 {
        if case .targetDown = self { return 3 }
        return 2
    }

    public var description: String {
        switch self {
        case let .notACapture(path, detail): "\(path): not a pcap or pcapng file: \(detail)"
        case let .truncatedCapture(path, packet, offset, detail):
            "\(path): damaged capture at packet \(packet) (byte offset \(offset)): \(detail)"
        case let .fileNotFound(path): "\(path): no such file"
        case let .notADatabase(path, detail): "\(path): not a shadowdiff database: \(detail)"
        case let .newerSchema(path, found, supported):
            "\(path): database schema version \(found) is newer than this shadowdiff supports (\(supported)); upgrade shadowdiff"
        case let .unknownRun(path, run): "\(path): no replay run named '\(run)'"
        case let .noCaptures(path): "\(path): database holds no captured exchanges; run 'shadowdiff capture' first"
        case let .badURL(flag, url, detail): "\(flag) \(url): \(detail)"
        case let .targetUnreachable(url, detail): "\(url): target unreachable: \(detail)"
        case let .invalidArgument(flag, detail): "\(flag): \(detail)"
        case let .io(path, detail): "\(path): \(detail)"
        case let .storeWrite(path, detail): "\(path): cannot write to the database: \(detail)"
        case let .captureDevice(interface, detail): "--interface \(interface): cannot capture: \(detail)"
        case let .targetDown(url, failures, detail):
            "\(url): target down: \(failures) requests in a row failed (last: \(detail)); the run stopped and can be continued with --resume"
        case let .interrupted(source): "\(source): interrupted by a signal; the exchanges read so far are stored and the capture is marked failed (--resume continues it)"
        }
    }
}
