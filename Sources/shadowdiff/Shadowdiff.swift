import ArgumentParser
import Foundation
import ShadowCore

/// The `shadowdiff` command: record, replay, diff.
struct Shadowdiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shadowdiff",
        abstract: "Record production HTTP traffic, replay it to a baseline and a candidate build, and diff what they answered.",
        discussion: """
            Workflow: 'capture' records requests (and production's responses) into a SQLite file, \
            'replay' sends them to both builds and records the answers, 'diff' reports mismatched \
            decisions and latency regressions and exits 1 when a gate is crossed, 'report' writes \
            the HTML review report (and Markdown, JUnit, JSON), 'show' prints one exchange side by \
            side, 'runs' lists runs with their verdicts.

            Exit codes: 0 success, 1 a diff gate was crossed, 2 bad usage or bad input, 3 a replay target went \
            down during the run.
            """,
        subcommands: [
            CaptureCommand.self, CapturesCommand.self, ReplayCommand.self, DiffCommand.self, ReportCommand.self, ShowCommand.self,
            RunsCommand.self,
        ]
    )
}

/// Runs the command, mapping errors to one line on stderr and exit code 2.
@main
enum Main {
    static func main() async {
        // Past a file size limit (ulimit -f) a write fails, and the store reports it, instead of
        // SIGXFSZ killing the process with a batch half written.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try Shadowdiff.parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as ShadowError {
            Terminal.error("shadowdiff: \(error)")
            exit(error.exitCode)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            let code = Shadowdiff.exitCode(for: error)
            if code == .success {
                Shadowdiff.exit(withError: error)
            }
            Terminal.error(Shadowdiff.fullMessage(for: error))
            exit(2)
        }
    }
}

/// Writes to the terminal: results to stdout, progress and errors to stderr.
enum Terminal {
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1

    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// `--progress-interval`, for the commands that run long.
struct ProgressOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "When stderr is not a terminal (a log), print the progress line, with the count committed so far, at most this often; a terminal's is redrawn every second.",
        valueName: "seconds"))
    var progressInterval: Double = 10

    func validate() throws {
        guard progressInterval > 0 else {
            throw ShadowError.invalidArgument(flag: "--progress-interval", detail: "must be positive, got \(progressInterval)")
        }
    }
}

/// A long command's progress on stderr: on a terminal, one status line redrawn in place at most
/// once a second; otherwise (a log) the same text as plain lines, at most one per interval.
final class ProgressLine: @unchecked Sendable {
    /// How often a caller should offer fresh text: the shorter of a second and the interval.
    let tick: Double
    private let period: Double
    private let onTerminal = Terminal.stderrIsTTY
    private let lock = NSLock()
    private var lastShown = Date()

    init(_ options: ProgressOptions) {
        tick = min(1, options.progressInterval)
        period = onTerminal ? 1 : options.progressInterval
    }

    /// Shows the text `render` makes if a line is due (it is only called then). Callable from any thread.
    func show(_ render: () -> String) {
        lock.withLock {
            guard Date().timeIntervalSince(lastShown) >= period else { return }
            lastShown = Date()
            FileHandle.standardError.write(Data(((onTerminal ? "\r\u{1B}[2K" : "") + render() + (onTerminal ? "" : "\n")).utf8))
        }
    }

    /// Clears a terminal's status line before the command prints its summary.
    func end() {
        guard onTerminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}
